/**
 * Where a live worker finds the HTTP recorder prebuilt by the CLI's build (bin/bundle.mjs writes it to
 * dist/node_modules/recorder/ with a manifest of the sources it was made from): only when that build is as
 * new as every one of them. Under a `node_modules` directory vite-node imports it natively, as one module,
 * instead of fetching and transforming its ~12 TypeScript modules in every worker.
 */
import { readFileSync, statSync } from "node:fs"

/** What bin/bundle.mjs writes beside the prebuilt recorder. */
interface Manifest {
  /** When the build started (ms): a source saved during it counts as newer. */
  readonly builtAt: number
  /** The sources it was made from, relative to the package root. */
  readonly inputs: ReadonlyArray<string>
}

/** The prebuilt recorder's URL under the package `root`, or undefined: none, or older than a source. */
export const prebuiltRecorder = (root: URL): URL | undefined => {
  const dir = new URL("dist/node_modules/recorder/", root)
  try {
    const manifest = JSON.parse(readFileSync(new URL("recorder.json", dir), "utf8")) as Manifest
    const fresh = manifest.inputs.length > 0 &&
      manifest.inputs.every((input) => statSync(new URL(input, root)).mtimeMs <= manifest.builtAt)
    return fresh ? new URL("recorder.mjs", dir) : undefined
  } catch {
    // no manifest, an unreadable one, or a source it names is gone
    return undefined
  }
}
