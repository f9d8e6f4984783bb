/**
 * The global fetch dispatcher, read and set without loading undici (~50 ms a worker would pay for every
 * live test file, most of which make no HTTP call). undici keeps it under registered symbols precisely so
 * that its copies (the npm package, Node's own for `fetch`) share one: `…1` is the one every version reads,
 * `…2` the current npm package's. This sets both, as undici's own `setGlobalDispatcher` does.
 */

/** What `fetch` calls on the global dispatcher. */
export interface Dispatching {
  readonly dispatch: (options: never, handler: never) => boolean
}

const legacy = Symbol.for("undici.globalDispatcher.1")
const current = Symbol.for("undici.globalDispatcher.2")

/** The installed global dispatcher, if any. */
export const get = (): Dispatching | undefined => (globalThis as Record<symbol, Dispatching | undefined>)[legacy]

/** Installs `dispatcher` as the global one, for every copy of undici. */
export const set = (dispatcher: Dispatching | undefined): void => {
  for (const key of [current, legacy]) {
    Object.defineProperty(globalThis, key, { value: dispatcher, writable: true, enumerable: false, configurable: false })
  }
}

