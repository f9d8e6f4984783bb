import { twoCalls } from "./calls.js"

twoCalls("a", "b")
