/** The client's own rules, over a fake transport that records what it was asked (no server). */
import assert from "node:assert/strict";
import { test } from "node:test";

import { createClient, type HttpRequest, type HttpResponse, TransportError } from "../src/index.js";

function recording(answer: (request: HttpRequest) => HttpResponse) {
  const sent: HttpRequest[] = [];
  const gx = createClient({
    baseUrl: "https://api.example.cn/",
    transport: async (request) => {
      sent.push(request);
      return answer(request);
    },
  });
  return { gx, sent };
}

const json = (status: number, body: unknown): HttpResponse => ({
  status,
  contentType: "application/json",
  body: JSON.stringify(body),
});

test("path parameters are encoded, query values serialized, absent ones left out", async () => {
  const { gx, sent } = recording(() => json(200, { items: [], page: 1, page_size: 20, total: 0, total_exact: true }));
  await gx.getProfile({ path: { code: "a/b c" } });
  await gx.searchOrgs({ query: { q: "公信", page: 2, region: undefined } });
  assert.equal(sent[0]!.url, "https://api.example.cn/api/v1/orgs/a%2Fb%20c");
  assert.equal(sent[1]!.url, "https://api.example.cn/api/v1/orgs?q=%E5%85%AC%E4%BF%A1&page=2");
  assert.equal(sent[1]!.method, "GET");
  assert.equal(sent[1]!.body, undefined);
});

test("the token is sent once set, and not after it is cleared", async () => {
  const { gx, sent } = recording(() => json(200, { token: "t0k3n", expires_at: "2030-01-01T00:00:00Z" }));
  await gx.getMe();
  gx.setToken("t0k3n");
  await gx.getMe();
  gx.setToken(null);
  await gx.getMe();
  assert.deepEqual(
    sent.map((r) => r.headers["Authorization"]),
    [undefined, "Bearer t0k3n", undefined],
  );
});

test("a JSON body is sent as JSON", async () => {
  const { gx, sent } = recording(() => json(200, { token: "x", expires_at: "2030-01-01T00:00:00Z" }));
  await gx.login({ body: { code: "dev-x" } });
  assert.equal(sent[0]!.method, "POST");
  assert.equal(sent[0]!.headers["Content-Type"], "application/json");
  assert.equal(sent[0]!.body, '{"code":"dev-x"}');
});

test("errors: the API's body, a page from something in between, bytes, no answer, no JSON", async () => {
  const apiError = { error: { code: "auth.token_missing", message: "请先登录 / Log in first", details: null } };
  const bytes = new TextEncoder().encode(JSON.stringify(apiError)).buffer as ArrayBuffer;
  const answers: Array<HttpResponse | Error> = [
    json(401, apiError),
    { status: 502, contentType: "text/html", body: "<html>Bad Gateway</html>" },
    { status: 401, contentType: "application/json", body: bytes },
    new TransportError("request:fail timeout"),
    { status: 200, contentType: "application/json", body: "<html>portal</html>" },
  ];
  const { gx } = recording(() => {
    const next = answers.shift()!;
    if (next instanceof Error) throw next;
    return next;
  });
  const codes = [];
  for (let i = 0; i < 5; i++) {
    const result = await gx.getMe();
    assert.equal(result.ok, false);
    if (!result.ok) codes.push([result.status, result.error.code]);
  }
  assert.deepEqual(codes, [
    [401, "auth.token_missing"],
    [502, "http.502"],
    [401, "auth.token_missing"],
    [0, "client.network"],
    [200, "client.malformed_response"],
  ]);
});

test("an answer that may be a file is read as bytes, and goes by its Content-Type", async () => {
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]).buffer;
  const codeJson = new TextEncoder().encode('{"code":"c","expires_at":"x","interval_s":15}').buffer as ArrayBuffer;
  const answers: HttpResponse[] = [
    { status: 200, contentType: "image/png", body: png },
    { status: 200, contentType: "application/json; charset=utf-8", body: codeJson },
  ];
  const { gx, sent } = recording(() => answers.shift()!);
  const image = await gx.getCheckinCode({ path: { activity_id: 7 }, query: { format: "png" } });
  const code = await gx.getCheckinCode({ path: { activity_id: 7 } });
  assert.equal(sent[0]!.responseType, "bytes");
  assert.ok(image.ok && image.data instanceof ArrayBuffer);
  assert.ok(code.ok);
  assert.deepEqual(code.data, { code: "c", expires_at: "x", interval_s: 15 });
});

test("204 has no body", async () => {
  const { gx } = recording(() => ({ status: 204, contentType: "", body: "" }));
  const result = await gx.logout();
  assert.ok(result.ok);
  assert.equal(result.data, undefined);
});
