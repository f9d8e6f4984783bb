/**
 * The databases the harness makes next to the workflow database `<db>`, in one place: their names (all
 * `<db>__<kind>_...`) and the comments that mark them as the harness's (all starting `workflow-live:`).
 * The reset writes them; `prune` and the reset's inspect step read them. A database is the harness's only
 * when both hold: a lookalike name without the marker, or the marker under another name, is someone else's.
 */

/** Every harness comment starts with this. */
export const markerPrefix = "workflow-live:"

/** The comment on the workflow database itself. */
export const managedMarker = "workflow-live: managed by @tenderbot/workflow-live; every reset drops and recreates it"

/** How a template's comment starts. */
export const templateMarkerPrefix = "workflow-live: template"

/** How a spare clone's comment starts (a reset's pre-made next database). */
export const spareMarkerPrefix = "workflow-live: spare"

/** How a retired database's comment starts (a former workflow database swapped out by a reset). */
export const retiredMarkerPrefix = "workflow-live: retired"

/** The comment on the template for migrations `hash`, built by harness `version`. */
export const templateMarker = (hash: string, version: string): string =>
  `${templateMarkerPrefix} for migrations ${hash} of harness ${version}; never connect to it`

/**
 * What the template's comment says while a spare is cloned from it: `CREATE DATABASE` and the spare's own
 * marker cannot be one transaction, so a deferred work killed in between leaves an unmarked spare; this
 * note, written before the clone and removed after the marker, says it is the harness's.
 */
export const cloningNote = (spare: string): string => `; cloning ${spare}`

const cloningPattern = /; cloning (\S+)$/

/** The spare a template's comment says is being cloned from it, if one is. */
export const cloningSpare = (templateComment: string | null): string | undefined =>
  isTemplateMarked(templateComment) ? cloningPattern.exec(templateComment!)?.[1] : undefined

/** A template's comment without the note of a spare being cloned. */
export const withoutCloningNote = (templateComment: string): string => templateComment.replace(cloningPattern, "")

/** The prefix of every name the harness makes for `database`. */
export const harnessPrefix = (database: string): string => `${database}__`

/** The prefix of every template of `database`. */
export const templatePrefix = (database: string): string => `${harnessPrefix(database)}tpl_`

/** The spare clone of `database` for migrations `hash`. */
export const spareName = (database: string, hash: string): string => `${harnessPrefix(database)}spare_${hash}`

const starts = (comment: string | null, prefix: string): boolean => comment !== null && comment.startsWith(prefix)

/** The workflow database carries the harness's marker. */
export const isManaged = (comment: string | null): boolean => starts(comment, "workflow-live: managed")

/** A template's marker. */
export const isTemplateMarked = (comment: string | null): boolean => starts(comment, templateMarkerPrefix)

/** Any of the harness's markers. */
export const isHarnessMarked = (comment: string | null): boolean => starts(comment, markerPrefix)

// what follows `<db>__` in a name the harness makes: a template or a spare for a 12-hex migrations hash, a
// retired database's 13-digit millisecond stamp
const madeSuffix = /^(?:(?:tpl|spare)_[0-9a-f]{12}|old_[0-9]{13})$/

/**
 * A name the harness makes for `database` (not the database itself). Any other `<db>__*` name is a
 * person's, even with the harness's marker on it: a renamed copy (`<db>__keep_for_bug_123`) keeps it.
 */
export const isHarnessName = (database: string, name: string): boolean =>
  name.startsWith(harnessPrefix(database)) && madeSuffix.test(name.slice(harnessPrefix(database).length))

/** A `<db>__*` name the harness does not make: somebody named it so. */
export const isLookalikeName = (database: string, name: string): boolean =>
  name.startsWith(harnessPrefix(database)) && name.length > harnessPrefix(database).length && !isHarnessName(database, name)

/** What a harness database is, from its name and comment. */
export type Kind = "template" | "spare" | "retired" | "other"

/** The kind of a marked harness database. */
export const kindOf = (database: string, name: string, comment: string | null): Kind =>
  name.startsWith(templatePrefix(database)) && isTemplateMarked(comment)
    ? "template"
    : starts(comment, spareMarkerPrefix)
    ? "spare"
    : starts(comment, retiredMarkerPrefix)
    ? "retired"
    : "other"

/** The migrations hash and harness version a template's comment names (version absent in older comments). */
export const templateOrigin = (comment: string | null): { readonly hash?: string; readonly version?: string } => {
  const match = /for migrations ([0-9a-f]+)(?: of harness (\S+?);)?/.exec(comment ?? "")
  return match === null ? {} : { hash: match[1]!, ...(match[2] === undefined ? {} : { version: match[2] }) }
}

/**
 * The harness's databases of `database` other than those it keeps: marked, under its prefix, and not in
 * `keep` (the current template and spare). What `prune` removes and the reset mentions.
 */
export const stale = <D extends { readonly name: string; readonly comment: string | null }>(
  database: string,
  keep: ReadonlyArray<string>,
  databases: ReadonlyArray<D>
): ReadonlyArray<D> =>
  databases.filter((d) => isHarnessName(database, d.name) && isHarnessMarked(d.comment) && !keep.includes(d.name))
