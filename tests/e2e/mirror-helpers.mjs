// What the mirror's end-to-end suites share: syncing until caught up, reading every page of a
// mirror listing and of the change feed, and comparing the mirror with the simulator's truth.
// Each takes the stack (tests/e2e/harness.mjs) it talks to.
import assert from "node:assert/strict";
import { expectLingxing, expectXiaoe, pick } from "./expect.mjs";

export const EVERYTHING = { from: "2000-01-01", to: "2100-01-01" };

export const qs = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined)).toString();
export const show = (res) => `${res.method ?? "GET"} ${res.path} → ${res.status} ${res.text?.slice(0, 600)}`;

/** What the mirror must hold for the listed platforms (Xiaoe, Lingxing), from the simulator. */
export function truth(stack) {
  return [
    ...stack.sim.truth("xiaoe", { ...EVERYTHING, date_type: "updated_at" }).map(expectXiaoe),
    ...stack.sim.truth("lingxing", { ...EVERYTHING, date_type: 3 }).flatMap(expectLingxing),
  ];
}

/**
 * POST /v1/sync (of one `platform`, or all) until it answers done; every answer must be 200
 * with no platform in error, and `check(answer, response)` may look at each. Resolves with the
 * answers.
 */
export async function syncUntilDone(stack, { maxInvocations = 60, check = () => {}, platform } = {}) {
  const answers = [];
  for (let i = 0; i < maxInvocations; i++) {
    const res = await stack.request(platform ? `/v1/sync?${qs({ platform })}` : "/v1/sync", { method: "POST" });
    assert.equal(res.status, 200, show(res));
    answers.push(res.json);
    for (const [platform, p] of Object.entries(res.json.platforms)) assert.equal(p.error, null, `${platform}: ${p.error}`);
    check(res.json, res);
    if (res.json.done) return answers;
  }
  assert.fail(`the sync did not catch up in ${maxInvocations} invocations; the last answers: ${JSON.stringify(answers.slice(-2))}`);
}

/** Every page of a mirror listing, checking that its total stays put. */
export async function mirrorPages(stack, params) {
  const records = [];
  let cursor;
  let total;
  for (let i = 0; i < 200; i++) {
    const res = await stack.get(`/v1/aftersales?${qs({ ...params, cursor })}`);
    assert.equal(res.status, 200, show(res));
    assert.equal(res.json.source, "mirror");
    total ??= res.json.total;
    assert.equal(res.json.total, total, "the total stays the same across the pages of one listing");
    records.push(...res.json.data);
    cursor = res.json.next_cursor;
    if (cursor === null) return { records, total, last: res.json };
  }
  assert.fail("the mirror listing never ended");
}

/** Every change after `after`, page by page. */
export async function allChanges(stack, after = 0) {
  const changes = [];
  for (let i = 0; i < 500; i++) {
    const res = await stack.get(`/v1/changes?${qs({ after, limit: 200 })}`);
    assert.equal(res.status, 200, show(res));
    changes.push(...res.json.data);
    assert.ok(res.json.next_after >= after);
    after = res.json.next_after;
    if (!res.json.has_more) return { changes, after };
  }
  assert.fail("the change feed never ended");
}

/** The records are exactly the expected ones, each once, with the expected fields. */
export function sameIds(records, expected, label) {
  const got = records.map((r) => r.id).sort();
  const want = expected.map((e) => e.id).sort();
  assert.equal(new Set(got).size, got.length, `${label}: an id twice`);
  assert.deepEqual(got, want, `${label}: the mirror's ids differ from the truth's`);
  const byId = new Map(records.map((r) => [r.id, r]));
  for (const e of expected) assert.deepStrictEqual(pick(byId.get(e.id), e), e, `${label}: ${e.id}`);
}
