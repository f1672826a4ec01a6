/**
 * A scanned QR code -> the verdict and the profile; the member checks in at an activity with the
 * organizer's rotating code (the README's example; type-checked by tsconfig.wx.json).
 */
import { ensureLoggedIn, gx } from "../../utils/api.js";

Page({
  data: { verdict: "", name: "", message: "" },

  async onLoad(query: Record<string, string | undefined>) {
    const url = decodeURIComponent(query.q ?? ""); // the QR code's https URL
    const verified = await gx.verify({ query: { url } });
    if (!verified.ok) return this.setData({ message: verified.error.message });
    // verdict: "good_standing" | "warnings" | "not_in_good_standing" | "not_genuine"
    this.setData({ verdict: verified.data.verdict, name: verified.data.organization?.name ?? "" });
  },

  async onCheckIn(event: WechatMiniprogram.TouchEvent) {
    await ensureLoggedIn();
    const activityId = Number(event.currentTarget.dataset.activityId);
    const { result: code } = await wx.scanCode({ onlyFromCamera: true });
    const { latitude, longitude, accuracy } = await wx.getLocation({ type: "gcj02" });
    const checkin = await gx.checkIn({
      path: { activity_id: activityId },
      body: { code, latitude, longitude, accuracy },
    });
    if (checkin.ok) {
      // 201: recorded now; 200: already checked in, the earlier record
      this.setData({ message: checkin.data.status === "late" ? "已签到（迟到）" : "签到成功" });
    } else if (checkin.error.code === "checkin.code_expired") {
      this.setData({ message: "二维码已过期，请重新扫描" });
    } else {
      this.setData({ message: checkin.error.message });
    }
  },
});
