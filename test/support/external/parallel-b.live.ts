import { twoCalls } from "./calls.js"

twoCalls("b", "a")
