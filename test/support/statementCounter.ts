/**
 * Counts the SQL statements an Effect runs, from the `sql.execute` spans `@effect/sql` opens for each
 * one: the real statements sent, not the ones the code meant to send.
 */
import { Effect, Option, Tracer } from "effect"

/**
 * Runs `effect` and returns its result with the text of every statement it executed. Finalizers run
 * with the fiber refs of their acquisition, so wrap acquire and release together and filter the texts.
 */
export const recordStatements = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<readonly [A, ReadonlyArray<string>], E, R> =>
  Effect.suspend(() => {
    const spans: Array<NoopSpan> = []
    const tracer = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        const span = new NoopSpan(name, parent, context, links, startTime, kind, options)
        if (name === "sql.execute") spans.push(span)
        return span
      },
      context: (f) => f()
    })
    return effect.pipe(
      Effect.withTracer(tracer),
      Effect.map((a) => [a, spans.map((span) => String(span.attributes.get("db.query.text") ?? "").trim())] as const)
    )
  })

/** How many of the statements are DELETEs: the cleanup's share. */
export const deletes = (statements: ReadonlyArray<string>): number =>
  statements.filter((text) => /^DELETE\b/i.test(text)).length

class NoopSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId = Math.random().toString(16).slice(2)
  readonly traceId = "statement-counter"
  readonly sampled = false
  status: Tracer.SpanStatus
  readonly attributes = new Map<string, unknown>()
  readonly links: Array<Tracer.SpanLink>
  readonly parent: Option.Option<Tracer.AnySpan>
  constructor(
    readonly name: string,
    parent: Option.Option<Tracer.AnySpan>,
    readonly context: import("effect/Context").Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    readonly kind: Tracer.SpanKind,
    _options?: unknown
  ) {
    this.parent = parent
    this.links = [...links]
    this.status = { _tag: "Started", startTime }
  }
  end(endTime: bigint, exit: import("effect/Exit").Exit<unknown, unknown>): void {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }
  attribute(key: string, value: unknown): void {
    this.attributes.set(key, value)
  }
  event(): void {}
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.links.push(...links)
  }
}
