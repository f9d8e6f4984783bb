import { Effect, Exit, Option, Redacted, Scope } from "effect"
import * as DatabaseReset from "./src/DatabaseReset.js"
import * as DsnGuard from "./src/DsnGuard.js"
const database = "wl_prof_reset"
const target = await Effect.runPromise(DsnGuard.verify(Option.some(Redacted.make(`postgres://postgres@127.0.0.1:5432/${database}`)), {}, { database }))
await Effect.runPromise(DatabaseReset.reset(target))
const rows: Array<string> = []
for (let i = 0; i < 12; i++) {
  const scope = Effect.runSync(Scope.make())
  const steps: Array<string> = []
  const onStep = (s: DatabaseReset.Step) => Effect.sync(() => { steps.push(`${s.name}=${s.millis.toFixed(2)}`) })
  const p = await Effect.runPromise(Scope.extend(DatabaseReset.prepare(target, { onStep }), scope))
  await new Promise((r) => setTimeout(r, 20))
  const t = performance.now()
  const r = await Effect.runPromise(Scope.extend(p.reset, scope))
  const total = performance.now() - t
  rows.push(`${total.toFixed(2)} millis=${r.millis.toFixed(2)} ${steps.filter((s) => !s.startsWith("spare") && !s.startsWith("guard")).join(" ")}`)
  await Effect.runPromise(Scope.close(scope, Exit.void))
}
console.log(rows.join("\n"))
