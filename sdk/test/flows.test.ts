/**
 * The sample: what a member, an organizer, an officer and a citizen do, through the SDK, against a
 * live server (tests/sdk/test_sdk.py starts it with the demo data and runs this file under node).
 *
 *   GONGXIN_BASE_URL       the server, e.g. http://127.0.0.1:8000 (`make run`)
 *   GONGXIN_DEMO_ACTIVITY  the demo activity's id (`make run` prints it)
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";

import {
  type ApiError,
  asJson,
  type Client,
  createClient,
  fetchTransport,
  type Schemas,
  wxTransport,
  type WxRequest,
} from "../src/index.js";

const baseUrl = setting("GONGXIN_BASE_URL");
const activityId = Number(setting("GONGXIN_DEMO_ACTIVITY"));
const DEMO_ORG_NAME = "深圳市公信志愿服务协会";

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

type Outcome<T> = { ok: true; status: number; data: T } | { ok: false; status: number; error: ApiError };

/** The success body, or a failure that names the call and the error the server gave. */
function ok<T>(result: Outcome<T>, what: string): T {
  if (!result.ok) assert.fail(`${what}: ${result.status} ${result.error.code} ${result.error.message}`);
  return result.data;
}

function refused<T>(result: Outcome<T>, status: number, code: string): ApiError {
  assert.equal(result.ok, false, `expected ${status} ${code}`);
  if (result.ok) throw new Error("unreachable");
  assert.equal(result.status, status);
  assert.equal(result.error.code, code);
  assert.match(result.error.message, / \/ /); // Chinese first, then English
  return result.error;
}

async function signIn(name: string, gx: Client = createClient({ baseUrl, transport: fetchTransport() })) {
  const token = ok(await gx.login({ body: { code: `dev-${name}` } }), `login as dev-${name}`);
  gx.setToken(token.token);
  return gx;
}

// What one flow leaves for the next (node:test runs the tests of this file in order).
const shared: { orgCode?: string; receiptCode?: string; donationId?: number; projectId?: number } = {};

describe("citizen (no login)", () => {
  const citizen = createClient({ baseUrl, transport: fetchTransport() });

  test("searches, reads the profile, verifies the QR code", async () => {
    const page = ok(await citizen.searchOrgs({ query: { q: "公信", page_size: 10 } }), "searchOrgs");
    const demo = page.items.find((org) => org.name === DEMO_ORG_NAME);
    assert.ok(demo, `the demo organization is among ${page.items.map((o) => o.name).join(", ")}`);
    shared.orgCode = demo.credit_code;

    const profile = ok(await citizen.getProfile({ path: { code: demo.credit_code } }), "getProfile");
    assert.equal(profile.name, DEMO_ORG_NAME);

    const qr = ok(await citizen.getQrcode({ path: { code: demo.credit_code } }), "getQrcode");
    const verdict = ok(await citizen.verify({ query: { url: qr.url } }), "verify");
    assert.equal(verdict.verdict, "good_standing");
    assert.equal(verdict.organization?.credit_code, demo.credit_code);

    const forged = ok(await citizen.verify({ query: { url: `${qr.url.slice(0, -4)}AAAA` } }), "verify forged");
    assert.equal(forged.verdict, "not_genuine");
  });

  test("gets the QR code as PNG bytes", async () => {
    const png = ok(await citizen.getQrcodePng({ path: { code: shared.orgCode! }, query: { size: 256 } }), "png");
    assert.ok(png instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(png, 0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  });

  test("reads the public fundraising projects", async () => {
    const projects = ok(await citizen.listProjects(), "listProjects");
    const campaign = projects.items.find((p) => p.status === "fundraising");
    assert.ok(campaign, "the demo campaign is listed");
    shared.projectId = campaign.id;
    const project = ok(await citizen.getProject({ path: { project_id: campaign.id } }), "getProject");
    assert.equal(project.id, campaign.id);
  });

  test("hears a typed error for what does not exist", async () => {
    refused(await citizen.getReceipt({ path: { code: "0000-0000-0000-0000" } }), 404, "receipt.not_found");
    refused(await citizen.getMe(), 401, "auth.token_missing");
  });
});

describe("organizer (dev-bob, staff of the demo organization and the foundation)", () => {
  test("sees their roles, shows the rotating check-in code, records a donation", async () => {
    const bob = await signIn("bob");
    const me = ok(await bob.getMe(), "getMe");
    assert.ok(me.roles.staff.some((role) => role.credit_code === shared.orgCode));

    const code = asJson(ok(await bob.getCheckinCode({ path: { activity_id: activityId } }), "getCheckinCode"));
    assert.ok(code.code.length > 0 && code.interval_s > 0);

    const donation: Schemas["DonationCreate"] = {
      amount_fen: 8800,
      received_at: new Date().toISOString(),
      channel: "wechat_pay",
      external_ref: `sdk-${randomUUID()}`,
      donor_name: "王小明",
    };
    const recorded = bob.createDonation({ path: { project_id: shared.projectId! }, body: donation });
    const entry = ok(await recorded, "createDonation");
    assert.equal(entry.amount_fen, 8800);
    assert.equal(entry.donor, "王**"); // masked, the default
    shared.receiptCode = entry.receipt_code;
    shared.donationId = entry.id;

    const again = await bob.createDonation({ path: { project_id: shared.projectId! }, body: donation });
    assert.equal(ok(again, "createDonation again").id, entry.id); // idempotent by channel and reference
    assert.equal(again.status, 200);
  });
});

describe("member (dev-sdk-member)", () => {
  test("logs in, reads /me, checks in once however often they scan", async () => {
    const member = await signIn("sdk-member");
    const me = ok(await member.getMe(), "getMe");
    assert.equal(me.roles.officer.length, 0);

    const bob = await signIn("bob");
    const activity = ok(await member.getActivity({ path: { activity_id: activityId } }), "getActivity");
    const scan = async () => {
      const code = asJson(ok(await bob.getCheckinCode({ path: { activity_id: activityId } }), "getCheckinCode"));
      const { latitude, longitude } = activity.place;
      return member.checkIn({
        path: { activity_id: activityId },
        body: { code: code.code, latitude, longitude, accuracy: 5 },
      });
    };
    const first = await scan();
    const checkin = ok(first, "checkIn");
    assert.equal(first.status, 201);
    assert.equal(checkin.activity_id, activityId);
    const second = await scan();
    assert.equal(second.status, 200);
    assert.equal(ok(second, "checkIn again").checked_in_at, checkin.checked_in_at);

    const mine = ok(await member.listMyCheckins(), "listMyCheckins");
    assert.ok(mine.items.some((item) => item.activity_id === activityId));
  });

  test("signs up for the demo posting once however often they press", async () => {
    const member = await signIn("sdk-member");
    const postings = ok(await member.listPostings({ query: { org: shared.orgCode! } }), "listPostings");
    const posting = postings.items.find((p) => p.status === "open");
    assert.ok(posting, "the demo posting is open");
    const answers = { name: "李四", phone: "13800138000", slot: "上午" };
    const first = await member.signUp({ path: { posting_id: posting.id }, body: { answers } });
    const signup = ok(first, "signUp");
    assert.equal(first.status, 201);
    assert.ok(["confirmed", "waitlisted", "pending"].includes(signup.status), signup.status);
    const again = await member.signUp({ path: { posting_id: posting.id }, body: { answers } });
    assert.equal(again.status, 200);
    assert.equal(ok(again, "signUp again").id, signup.id);
    const mine = ok(await member.listMySignups(), "listMySignups");
    assert.ok(mine.items.some((item) => item.id === signup.id));
  });

  test("finds their donation by the receipt code", async () => {
    const member = await signIn("sdk-member");
    const receipt = ok(await member.getReceipt({ path: { code: shared.receiptCode! } }), "getReceipt");
    assert.equal(receipt.entry.id, shared.donationId);
    assert.equal(receipt.project.id, shared.projectId);
  });

  test("hears 403 for an officer's write, before anything about the body", async () => {
    const member = await signIn("sdk-member");
    const body = { unexpected: true } as unknown as Schemas["OrgCreate"];
    refused(await member.createOrg({ body }), 403, "auth.officer_required");
  });
});

describe("citizen checking the foundation's transparency log", () => {
  test("reads the signed checkpoint that covers the donations", async () => {
    const citizen = createClient({ baseUrl, transport: fetchTransport() });
    const project = ok(await citizen.getProject({ path: { project_id: shared.projectId! } }), "getProject");
    const note = ok(await citizen.getLogCheckpoint({ path: { code: project.credit_code } }), "checkpoint");
    assert.equal(typeof note, "string");
    // A C2SP signed note: origin, tree size, base64 root hash, a blank line, the signature lines.
    const [origin, size, root, blank, signature] = String(note).split("\n");
    assert.ok(origin && origin.length > 0);
    assert.ok(Number(size) >= 1, `size ${size}`);
    assert.equal(Buffer.from(root!, "base64").length, 32);
    assert.equal(blank, "");
    assert.match(signature!, /^— /);
  });
});

describe("officer (dev-alice, 深圳市民政局)", () => {
  test("reads the jurisdiction's statistics and an organization's audit trail", async () => {
    const alice = await signIn("alice");
    const me = ok(await alice.getMe(), "getMe");
    assert.ok(me.roles.officer.some((role) => role.region_code === "440300"));
    const stats = ok(await alice.getRegionStats({ path: { region_code: "440300" } }), "getRegionStats");
    assert.equal(stats.region.region_code, "440300");
    const audit = ok(await alice.getAudit({ path: { code: shared.orgCode! } }), "getAudit");
    assert.ok(Array.isArray(audit.items));
    refused(await alice.getRegionStats({ path: { region_code: "110000" } }), 403, "auth.outside_jurisdiction");
  });
});

describe("the same client over wx.request", () => {
  // wx.request as the mini-program base library behaves (callbacks, statusCode, text or ArrayBuffer),
  // carried here by node's fetch.
  const fakeWxRequest: WxRequest = (options) => {
    fetch(options.url, { method: options.method, headers: options.header, body: options.data })
      .then(async (response) => {
        const data = options.responseType === "arraybuffer" ? await response.arrayBuffer() : await response.text();
        options.success({ statusCode: response.status, header: Object.fromEntries(response.headers), data });
      })
      .catch((error: Error) => options.fail({ errMsg: `request:fail ${error.message}` }));
    return undefined;
  };

  test("logs in, reads /me, gets bytes and typed errors", async () => {
    const gx = await signIn("sdk-member", createClient({ baseUrl, transport: wxTransport(fakeWxRequest) }));
    assert.ok(ok(await gx.getMe(), "getMe over wx").id > 0);
    const png = ok(await gx.getQrcodePng({ path: { code: shared.orgCode! } }), "png over wx");
    assert.equal(new Uint8Array(png)[1], 0x50);
    refused(await gx.getQrcodePng({ path: { code: "NOSUCHORG" } }), 404, "organization.not_found");
    const offline = createClient({ baseUrl: "http://127.0.0.1:9", transport: wxTransport(fakeWxRequest) });
    const unreachable = await offline.healthz();
    assert.equal(unreachable.ok, false);
    assert.equal(unreachable.status, 0);
    if (!unreachable.ok) assert.equal(unreachable.error.code, "client.network");
  });
});
