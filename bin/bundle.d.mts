import type { BuildOptions } from "esbuild"

/** esbuild's options for the CLI bundle of `root`, written to `outdir`. */
export declare const buildOptions: (root: string, outdir: string) => BuildOptions
/** Builds the CLI bundle and moves it into `root`/dist, atomically file by file, the entry last. */
export declare const rebuild: (root: string) => Promise<void>
/** esbuild's options for the live workers' prebuilt HTTP recorder of `root`, under `outdir`/{@link recorderDir}. */
export declare const recorderBuildOptions: (root: string, outdir: string) => BuildOptions
/** Where the prebuilt recorder goes, relative to dist/. */
export declare const recorderDir: string
/** The manifest beside it: `{ builtAt, inputs }`. */
export declare const recorderManifest: string
