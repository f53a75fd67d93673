import type { Database } from "../db/client";
import { getWidgetWithTemplateByPublicKey } from "../db/queries";
import { ApiError } from "../errors";
import { assertOriginAllowed } from "./origin";
import { isStorableText } from "../storable-text";

/**
 * `GET /v1/widget/config`: what `widget.js` needs on page load, before any session — whether this
 * page may show the widget at all (the same origin rule as session create, so a refused page
 * shows no launcher), and the Turnstile site key when sessions open only after a challenge. No
 * session row, no rate-limit count.
 */
export async function widgetConfig(db: Database, { publicKey, origin }: { publicKey: string; origin: string | null }) {
  if (!publicKey || publicKey.length > 200 || !isStorableText(publicKey)) {
    throw new ApiError("invalid_request", { message: "Send the widget's public key as `?publicKey=pk_…`." });
  }
  const found = await getWidgetWithTemplateByPublicKey(db, { publicKey });
  if (!found?.widget.active) throw new ApiError("widget_not_found");
  assertOriginAllowed(origin, found.widget, { required: true });
  return { turnstileSiteKey: found.widget.turnstileSiteKey };
}
