import type { BuildOptions } from "esbuild"

/** esbuild's options for the CLI bundle of `root`, written to `outdir`. */
export declare const buildOptions: (root: string, outdir: string) => BuildOptions
/** Builds the CLI bundle and moves it into `root`/dist, atomically file by file, the entry last. */
export declare const rebuild: (root: string) => Promise<void>
