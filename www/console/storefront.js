// The storefront example (README, "Buyer sessions"): sign a buyer in, then read that buyer's
// after-sales with the session. Only the client entry of the npm module is used.
import { Client, isAftersaleError } from "./aftersale/client.js";

const endpoint = location.origin;
const $ = (id) => document.getElementById(id);

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function explain(e) {
  return isAftersaleError(e) ? `${e.code}: ${e.message}` : String(e?.message ?? e);
}

function money(m) {
  return m ? `${m.decimal} ${m.currency}` : "—";
}

function show(records) {
  const body = $("mine").querySelector("tbody");
  for (const r of records) {
    const row = document.createElement("tr");
    row.dataset.id = r.id;
    row.dataset.openid = r.buyer?.openid ?? "";
    for (const text of [r.aftersale_id, r.order_id ?? "—", r.kind, r.status, money(r.refund), r.created_at ?? "—"]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    body.append(row);
  }
  $("mine").hidden = false;
}


$("example").addEventListener("click", async () => {
  // The sandbox lists its example buyers; a real storefront knows its own buyer.
  try {
    const res = await fetch(`${endpoint}/v1/sandbox/orders`);
    const body = await res.json();
    const order = body.orders?.find((o) => o.aftersales > 0) ?? body.orders?.[0];
    if (!order) throw new Error(body.error?.message ?? "the sandbox lists no buyer (is the proxy in sandbox mode?)");
    $("openid").value = order.openid;
    $("order").value = order.order_id;
  } catch (e) {
    say(explain(e), true);
  }
});

$("signin").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("mine").querySelector("tbody").replaceChildren();
  say("Signing in…");
  try {
    const signed = await Client.signIn({ endpoint, code: `sandbox-${$("openid").value.trim()}` });
    const client = new Client({ endpoint, session: signed.session });
    const records = await client.myOrder($("order").value.trim());
    show(records);
    say(`${records.length} after-sale${records.length === 1 ? "" : "s"} of ${client.session.buyer} on ${client.session.platform}`);
  } catch (e) {
    say(explain(e), true);
  }
});
