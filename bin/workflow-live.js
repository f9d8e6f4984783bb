#!/usr/bin/env node
// tsx runs the TypeScript sources directly, so the command needs no build step.
import { register } from "tsx/esm/api"
register()
await import("../src/cli/main.ts")
