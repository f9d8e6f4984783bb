// Record/replay without I/O: the canonical form requests match on (no secret, no port), the stored
// form, the nearest-request diagnosis, and the settings.
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect } from "effect"
import { join, resolve } from "node:path"
import { gzipSync } from "node:zlib"
import * as HttpRecorder from "../../src/HttpRecorder.js"
import {
  type Canon,
  canonical,
  canonicalUrl,
  matchOptions,
  placeholderOrigin,
  requestOf,
  responseBody,
  storedRequest,
  storedResponse
} from "../../src/internal/cassette.js"
import { nearest } from "../../src/internal/nearestRequest.js"

const key = "sk-live-0123456789abcdef"
const canon: Canon = {
  bases: [
    { variable: "TENDERBOT_LLM_BASE_URL", value: "http://127.0.0.1:41999/v1" },
    { variable: "TENDERBOT_TENDERS_API_URL", value: "http://127.0.0.1:42000/api/" }
  ],
  secrets: [{ variable: "TENDERBOT_LLM_API_KEY", value: key }]
}

const chat = (system: string) =>
  JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "system", content: system }, { role: "user", content: "Title: X" }] })

describe("the canonical request", () => {
  it("writes base URLs as their variable, so a recording does not depend on the port", () => {
    expect(canonicalUrl(canon, "http://127.0.0.1:41999/v1/chat/completions")).toBe("{TENDERBOT_LLM_BASE_URL}/chat/completions")
    expect(canonicalUrl(canon, "http://127.0.0.1:42000/api/tenders?since=2026")).toBe("{TENDERBOT_TENDERS_API_URL}/tenders?since=2026")
    expect(canonicalUrl(canon, "http://127.0.0.1:41999/v10/x")).toBe("http://127.0.0.1:41999/v10/x")
    expect(canonicalUrl(canon, "https://api.example.com/a")).toBe("https://api.example.com/a")
  })

  it("holds no secret: key values anywhere, credential-like query and JSON fields", () => {
    expect(canonicalUrl(canon, `https://x.test/a?key=${key}&q=1`)).toBe("https://x.test/a?key={redacted}&q=1")
    expect(canonicalUrl(canon, "https://x.test/a?api_key=abc&access_token=t&page=2")).toBe(
      "https://x.test/a?api_key={redacted}&access_token={redacted}&page=2"
    )
    expect(canonicalUrl(canon, `https://x.test/${encodeURIComponent(key)}/b`)).toBe("https://x.test/{TENDERBOT_LLM_API_KEY}/b")
    const body = canonical(canon, {
      method: "post",
      url: "https://x.test/a",
      contentType: "application/json",
      body: JSON.stringify({ apiKey: "other-secret", nested: { password: "pw" }, note: `uses ${key}` })
    })
    expect(body.method).toBe("POST")
    expect(body.body).toBe(`{"apiKey":"{redacted}","nested":{"password":"{redacted}"},"note":"uses {TENDERBOT_LLM_API_KEY}"}`)
    expect(body.body).not.toContain("other-secret")
    const form = canonical(canon, { method: "POST", url: "https://x.test/t", contentType: "application/x-www-form-urlencoded", body: "client_secret=s3&grant=1" })
    expect(form.body).toBe("client_secret={redacted}&grant=1")
  })

  it("takes a name for a credential's by its words, not only an exact list, and leaves data names alone", () => {
    expect(canonicalUrl(canon, "https://x.test/a?auth_token=t1&private_key=k1&sessionId=s1&keywords=road&page=2")).toBe(
      "https://x.test/a?auth_token={redacted}&private_key={redacted}&sessionId={redacted}&keywords=road&page=2"
    )
    const body = canonical(canon, {
      method: "POST",
      url: "https://x.test/a",
      contentType: "application/json",
      body: JSON.stringify({ auth_token: "t2", privateKey: "k2", nested: { bearer: "b2" }, max_tokens: 5, key: "data", monkey: "m" })
    })
    expect(JSON.parse(body.body)).toEqual({
      auth_token: "{redacted}",
      privateKey: "{redacted}",
      nested: { bearer: "{redacted}" },
      max_tokens: 5,
      key: "data",
      monkey: "m"
    })
  })

  it("keeps a JSON body byte for byte when there is nothing to remove (so it matches what was sent)", () => {
    const text = `{ "b": 1,  "a": [2] }`
    expect(canonical(canon, { method: "POST", url: "https://x.test", contentType: "application/json", body: text }).body).toBe(text)
  })

  it("is matched under a placeholder origin that never resolves, keyed to its test", () => {
    expect(placeholderOrigin("TENDERBOT_LLM_BASE_URL")).toBe("http://tenderbot-llm-base-url.invalid")
    const request = canonical(canon, { method: "GET", url: "http://127.0.0.1:42000/api/tenders?since=1", contentType: undefined, body: "" })
    expect(matchOptions(request, "suite > test")).toEqual({
      origin: "http://tenderbot-tenders-api-url.invalid",
      path: "/tenders?since=1",
      method: "GET",
      headers: { "x-workflow-live-test": "suite > test" },
      body: ""
    })
  })
})

describe("the stored form", () => {
  it("keeps a compact JSON request body as JSON and gives back the same bytes", () => {
    const request = canonical(canon, { method: "POST", url: "http://127.0.0.1:41999/v1/chat/completions", contentType: "application/json", body: chat("S") })
    const stored = storedRequest(request)
    expect(stored.json).toEqual(JSON.parse(chat("S")))
    expect(requestOf(stored)).toEqual(request)
  })

  it("decompresses a response, drops transfer headers and cookies, removes secrets", () => {
    const body = JSON.stringify({ echo: key, usage: { prompt_tokens: 1, completion_tokens: 2 } })
    const stored = storedResponse(canon, {
      status: 200,
      headers: { "Content-Type": "application/json", "content-encoding": "gzip", "set-cookie": "s=1", date: "x", "x-key": key },
      body: gzipSync(body)
    })
    expect(stored.headers).toEqual({ "content-type": "application/json", "x-key": "{TENDERBOT_LLM_API_KEY}" })
    expect(stored.json).toEqual({ echo: "{TENDERBOT_LLM_API_KEY}", usage: { prompt_tokens: 1, completion_tokens: 2 } })
    expect(JSON.stringify(stored)).not.toContain(key)
    expect(responseBody(stored).toString()).toBe(JSON.stringify(stored.json))
    // what a server hands out: tokens in the answer's body and headers are not kept
    const oauth = storedResponse(canon, {
      status: 200,
      headers: { "content-type": "application/json", "x-session-token": "sess-99" },
      body: Buffer.from(JSON.stringify({ access_token: "tokRESPONSE", refresh_token: "ref-1", expires_in: 3600, usage: { prompt_tokens: 3 } }))
    })
    expect(oauth.headers).toEqual({ "content-type": "application/json", "x-session-token": "{redacted}" })
    expect(oauth.json).toEqual({ access_token: "{redacted}", refresh_token: "{redacted}", expires_in: 3600, usage: { prompt_tokens: 3 } })
    const binary = storedResponse(canon, { status: 200, headers: {}, body: Buffer.from([0xff, 0xfe, 0x00]) })
    expect(responseBody(binary)).toEqual(Buffer.from([0xff, 0xfe, 0x00]))
  })
})

describe("the nearest recorded request", () => {
  const recorded = [
    { test: "job > one", request: canonical(canon, { method: "GET", url: "http://127.0.0.1:42000/api/tenders?since=2026-01-01", contentType: undefined, body: "" }) },
    { test: "job > one", request: canonical(canon, { method: "POST", url: "http://127.0.0.1:41999/v1/chat/completions", contentType: "application/json", body: chat("Summarise the tender in one sentence.") }) },
    { test: "job > two", request: canonical(canon, { method: "DELETE", url: "https://x.test/z", contentType: undefined, body: "" }) }
  ]

  it("is the same call with a changed prompt, named by the JSON path that changed", () => {
    const sent = canonical(canon, { method: "POST", url: "http://127.0.0.1:41999/v1/chat/completions", contentType: "application/json", body: chat("Summarise in German.") })
    const found = nearest(sent, "job > one", recorded)
    expect(found?.candidate).toBe(recorded[1])
    expect(found?.differences).toEqual([`body $.messages[0].content: recorded "Summarise the tender in one sentence.", sent "Summarise in German."`])
  })

  it("shows a changed query and prefers the test's own recordings", () => {
    const sent = canonical(canon, { method: "GET", url: "http://127.0.0.1:42000/api/tenders?since=2027-01-01", contentType: undefined, body: "" })
    const found = nearest(sent, "job > one", recorded)
    expect(found?.candidate).toBe(recorded[0])
    expect(found?.differences).toEqual([`query: recorded "since=2026-01-01", sent "since=2027-01-01"`])
    expect(nearest(sent, "job > two", recorded)?.candidate).toBe(recorded[2])
    expect(nearest(sent, "job > three", [])).toBeUndefined()
  })
})

describe("settings", () => {
  const read = (env: Record<string, string>, override?: string) =>
    Effect.runSync(Effect.either(HttpRecorder.settings(override).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))))

  it("default to live and the repository's cassette directory", () => {
    expect(read({})).toMatchObject({ _tag: "Right", right: { mode: "live", cassettes: resolve(HttpRecorder.defaultCassettes) } })
    expect(read({ WORKFLOW_LIVE_HTTP: "record" }, "replay")).toMatchObject({ right: { mode: "replay" } })
  })

  it("refuse a mistyped mode, naming where it came from and the three modes", () => {
    const bad = read({ WORKFLOW_LIVE_HTTP: "replya" })
    expect(bad._tag).toBe("Left")
    if (bad._tag === "Left") {
      expect(bad.left.reason).toBe("invalid-mode")
      expect(bad.left.message).toContain(`WORKFLOW_LIVE_HTTP="replya" is not a mode`)
      expect(bad.left.message).toContain("live")
      expect(bad.left.message).toContain("--http=replay")
    }
    const flag = read({}, "REPLAY")
    expect(flag._tag === "Left" && flag.left.message.includes(`--http="REPLAY"`)).toBe(true)
  })

  it("name a test file's cassette after the file", () => {
    const dir = resolve("test/workflow_live/__cassettes__")
    expect(HttpRecorder.cassetteFor(dir, resolve("test/workflow_live/tender-alert.test.ts"))).toBe(join(dir, "tender-alert.test.ts.json"))
    expect(HttpRecorder.cassetteFor("/tmp/c", resolve("test/workflow_live/a.test.ts"))).toBe("/tmp/c/test__workflow_live__a.test.ts.json")
    // a cassette directory outside the project whose parent holds the project (a clone under /tmp/x)
    const above = resolve(process.cwd(), "..", "c")
    expect(HttpRecorder.cassetteFor(above, resolve("test/workflow_live/a.test.ts"))).toBe(join(above, "test__workflow_live__a.test.ts.json"))
  })
})
