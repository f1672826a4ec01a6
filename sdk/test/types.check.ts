/**
 * Compile-time checks (type-checked with the sample, never run): each `@ts-expect-error` below is a
 * call the generated types must refuse. If the types grew lax (a path parameter as an object, a
 * body of `any`), the line would compile, and tsc fails on the unused directive.
 */
import { asJson, type Client, type Data, type Result } from "../src/index.js";

export async function refusedAtCompileTime(gx: Client): Promise<void> {
  const body = { code: "123456", latitude: 22.5, longitude: 114.0 };
  await gx.checkIn({ path: { activity_id: 1 }, body });
  // @ts-expect-error a path parameter has its real type: an integer, not a string
  await gx.checkIn({ path: { activity_id: "1" }, body });
  // @ts-expect-error the body is required
  await gx.checkIn({ path: { activity_id: 1 } });
  // @ts-expect-error a misspelt field is refused, as the server refuses it (422 extra_forbidden)
  await gx.checkIn({ path: { activity_id: 1 }, body: { ...body, lat: 1 } });
  // @ts-expect-error an operation takes its own path parameters
  await gx.getProfile();
  // @ts-expect-error query parameters keep their enums
  await gx.searchOrgs({ query: { status: "closed-down" } });
  // @ts-expect-error no such operation
  await gx.deleteEverything();
  // @ts-expect-error operations without a body take none
  await gx.getMe({ body: {} });

  const login: Result<"login"> = await gx.login({ body: { code: "dev-x" } });
  // @ts-expect-error the body is there only once ok is checked
  login.data.token;
  if (login.ok) {
    const token: string = login.data.token;
    gx.setToken(token);
  } else {
    const code: string = login.error.code;
    void code;
  }
  const verdict: Data<"verify">["verdict"] = "good_standing";
  // @ts-expect-error a verdict is one of four
  const unknownVerdict: Data<"verify">["verdict"] = "fine";
  void verdict, unknownVerdict;

  const png = await gx.getQrcodePng({ path: { code: "x" } });
  if (png.ok) {
    const bytes: ArrayBuffer = png.data;
    void bytes;
  }
  const code = await gx.getCheckinCode({ path: { activity_id: 1 } });
  if (code.ok) {
    // @ts-expect-error the answer may be an image: narrow it first
    code.data.code;
    const text: string = asJson(code.data).code;
    void text;
  }
}
