// The agni-gateway console: every action is a call to the gateway's JSON API
// with the session cookie and the session's CSRF token, so the same checks
// and audit apply as to curl. Values from the API are only ever rendered as
// text (textContent), never as markup.

const state = { session: null, auditAfter: null, auditQuery: "", auditLoad: 0,
                pending: null, link: null };

// Whether this tab signed in (the cookie itself is HttpOnly): without it the
// page does not ask for a session it does not have, which the gateway would
// answer 401 and audit.
const SIGNED_IN = "agni-console-signed-in";

const $ = (id) => document.getElementById(id);

// The request a notification links to (/ui/?approval=ID or ?review=ID),
// opened once signed in; null for the plain start page.
function deepLink() {
  const query = new URLSearchParams(location.search);
  for (const kind of ["approval", "review"]) {
    const id = query.get(kind);
    if (id && /^[A-Za-z0-9_-]{1,64}$/.test(id)) return { kind, id };
  }
  return null;
}

// Builds an element with text content and attributes; never parses markup.
function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

// A failed call's message, unless it ended the session (already back at
// sign-in with its own message).
function report(e) {
  if (e.status !== 401) say(e.message, "error");
}

function say(message, kind = "") {
  const s = $("status");
  s.textContent = message;
  s.className = kind;
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.reason = body && body.reason;
  }
}

async function api(method, path, body, headers = {}) {
  const h = { ...headers };
  if (method !== "GET" && state.session) h["X-CSRF-Token"] = state.session.csrf_token;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers: h, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (res.status === 401 && state.session) {
    state.session = null;
    showSignIn("Your session has ended; sign in again.");
  }
  if (!res.ok && res.status !== 202) throw new ApiError(res.status, data);
  return { status: res.status, data };
}

function timeLeft(iso) {
  if (!iso) return "";
  const ms = Date.parse(iso) - Date.now();
  if (Number.isNaN(ms)) return iso;
  if (ms <= 0) return "expired";
  const m = Math.floor(ms / 60000);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
}

function definitionList(rows) {
  const dl = el("dl");
  for (const [k, v] of rows) {
    dl.append(el("dt", k), el("dd", v));
  }
  return dl;
}

function votes(list) {
  if (!Array.isArray(list) || list.length === 0) return "none yet";
  return list.map((v) => `${v.user}${v.reason ? ` ("${v.reason}")` : ""}`).join("; ");
}

function rules(a) {
  const req = Array.isArray(a.required) ? a.required : [];
  return req.map((r) => `${r.rule_id}: ${r.approvals} from ${(r.from_groups || []).join(", ")}`)
    .join("; ") || a.rule_id || "";
}

// ---- views ---------------------------------------------------------------

const views = ["signin", "pending", "mine", "reviews", "request", "audit", "explain"];

function show(view) {
  for (const v of views) $(`view-${v}`).hidden = v !== view;
  for (const b of document.querySelectorAll("nav [data-view]")) {
    if (b.dataset.view === view) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  say("");
  const loaders = { pending: loadPending, mine: loadMine, reviews: loadReviews,
                    request: loadRequest, audit: loadAudit };
  if (loaders[view]) loaders[view]().catch(report);
}

function showSignIn(message = "") {
  sessionStorage.removeItem(SIGNED_IN);
  $("nav").hidden = true;
  show("signin");
  say(message);
  $("signin-token").focus();
}

function startApp(session) {
  state.session = session;
  $("who").textContent = `${session.user} (${(session.groups || []).join(", ")})`;
  for (const b of document.querySelectorAll("[data-auditor]")) b.hidden = !session.auditor;
  for (const b of document.querySelectorAll("[data-explainer]")) {
    b.hidden = !(session.auditor || session.admin);
  }
  $("nav").hidden = false;
  show(state.link ? "request" : "pending");
}

// Every page of the list (the API pages with limit/after/next), bounded so a
// huge backlog cannot hang the page.
const MAX_LIST_PAGES = 20;

async function approvals(status) {
  const all = [];
  let after = null;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const params = new URLSearchParams({ limit: "500" });
    if (status) params.set("status", status);
    if (after) params.set("after", after);
    const { data } = await api("GET", `/v1/approvals?${params}`);
    if (!data || !Array.isArray(data.approvals)) break;
    all.push(...data.approvals);
    if (!data.next) break;
    after = data.next;
  }
  return all;
}

// `done` runs after a decision (reloads the view the form is on).
function decisionForm(a, done) {
  const form = el("form", null, { class: "decide" });
  const id = `reason-${a.id}`;
  form.append(el("label", "Reason", { for: id }));
  const reason = el("textarea", null, { id, rows: "2" });
  form.append(reason);
  const row = el("div", null, { class: "actions" });
  const approve = el("button", "Approve", { type: "submit", class: "primary" });
  const deny = el("button", "Deny", { type: "button", class: "danger" });
  row.append(approve, deny);
  form.append(row);
  const decide = async (action) => {
    try {
      const body = reason.value ? { reason: reason.value } : undefined;
      await api("POST", `/v1/approvals/${encodeURIComponent(a.id)}/${action}`, body ?? {});
      say(action === "approve" ? "Approved." : "Denied.", "ok");
      await done();
    } catch (e) {
      report(e);
    }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); decide("approve"); });
  deny.addEventListener("click", () => decide("deny"));
  return form;
}

// The explain trace of an approval (the API lets anyone who may decide it
// see it), or of a user and number (auditors and admins).
async function explainInto(target, question) {
  try {
    const { data } = await api("POST", "/v1/policy/explain", question);
    target.textContent = JSON.stringify(data, null, 2);
  } catch (e) {
    target.textContent = e.message;
  }
}

function labelText(labels) {
  const entries = Object.entries(labels || {});
  if (entries.length === 0) return "none (not in the inventory)";
  return entries.map(([k, v]) => `${k}=${v}`).join(", ");
}

// Cards shown at once; the rest come a page at a time ("Show more").
const PAGE = 50;
// Approvals fetched per API page: one page usually fills the first screen.
const FETCH = 100;

// Mine to decide: someone else's, not voted on by me, and I am among its
// eligible approvers or (a person from the identity provider, listed there
// as a group) in one of the groups it needs.
function decidable(a, me) {
  const groups = state.session.groups || [];
  const eligible = (a.eligible_approvers || []).includes(me) ||
    (a.required || []).some((r) => (r.from_groups || []).some((g) => groups.includes(g)));
  return a.requester !== me && eligible && !(a.approvals || []).some((v) => v.user === me);
}

// Fetches API pages until `wanted` decidable requests are buffered or the
// list ends (bounded by MAX_LIST_PAGES per call).
async function fillPending(p, wanted) {
  const me = state.session.user;
  for (let page = 0; page < MAX_LIST_PAGES && p.items.length < wanted && !p.done; page++) {
    const params = new URLSearchParams({ status: "pending", limit: String(FETCH) });
    if (p.next) params.set("after", p.next);
    const { data } = await api("GET", `/v1/approvals?${params}`);
    const list = (data && Array.isArray(data.approvals)) ? data.approvals : [];
    p.items.push(...list.filter((a) => decidable(a, me)));
    p.next = data && data.next;
    p.done = !p.next;
  }
}

function pendingCard(a, me, done = () => loadPending()) {
  const card = el("article", null, { class: "card", "aria-label": `Request ${a.id}` });
  card.append(el("h3", `${a.phone_number} for ${a.requester}`));
  const others = (a.eligible_approvers || []).filter((u) => u !== me);
  card.append(definitionList([
    ["Requester", a.requester],
    ["Number", a.phone_number],
    ["Labels", labelText(a.labels)],
    ["Reason given", a.release_reason || "none"],
    ["Rules", rules(a)],
    ["Approvals so far", votes(a.approvals)],
    ["Who else may decide", others.join(", ") || "nobody else"],
    ["Time left", timeLeft(a.expires_at)],
    ["Request id", a.id],
  ]));
  const out = el("pre", null, { class: "detail", tabindex: "0", hidden: "" });
  const b = el("button", "Show the explain trace", { type: "button" });
  b.addEventListener("click", () => {
    out.hidden = false;
    explainInto(out, { approval_id: a.id });
  });
  card.append(b, out);
  card.append(decisionForm(a, done));
  return card;
}

async function loadPending(shown = PAGE) {
  const me = state.session.user;
  const list = $("pending-list");
  // A fresh look starts from the newest; "Show more" continues the buffer.
  if (shown === PAGE || !state.pending) {
    state.pending = { items: [], next: null, done: false };
  }
  const p = state.pending;
  await fillPending(p, shown + 1);
  const items = p.items.slice(0, shown);
  // Built off-document and attached once: one layout for the whole list.
  const cards = document.createDocumentFragment();
  if (items.length === 0) cards.append(el("p", "Nothing waits for you.", { class: "muted" }));
  for (const a of items) cards.append(pendingCard(a, me));
  if (p.items.length > items.length || !p.done) {
    const more = el("button", `Show more (${items.length} shown)`, { type: "button" });
    more.addEventListener("click", () => loadPending(shown + PAGE).catch(report));
    cards.append(more);
  }
  list.replaceChildren(cards);
}

function releasePath(number) {
  return `/api/v1/phone-numbers/${encodeURIComponent(number)}/release/`;
}

async function loadMine() {
  const me = state.session.user;
  const list = $("mine-list");
  const items = (await approvals()).filter((a) => a.requester === me);
  const cards = document.createDocumentFragment();
  if (items.length === 0) cards.append(el("p", "You have no requests.", { class: "muted" }));
  for (const a of items) {
    const card = el("article", null, { class: "card", "aria-label": `Request ${a.id}` });
    card.append(el("h3", `${a.phone_number}: ${a.status}`));
    card.append(definitionList([
      ["Status", a.status],
      ["Rules", rules(a)],
      ["Approvals", votes(a.approvals)],
      ["Denials", votes(a.denials)],
      ["Expires", a.status === "pending" ? timeLeft(a.expires_at) : (a.expires_at || "")],
      ["Request id", a.id],
    ]));
    const row = el("div", null, { class: "actions" });
    if (a.status === "approved") {
      const b = el("button", `Release ${a.phone_number}`, { type: "button", class: "primary" });
      b.addEventListener("click", async () => {
        try {
          const { status } = await api("DELETE", releasePath(a.phone_number), undefined,
            { "X-Approval-Id": a.id });
          say(`Released (HTTP ${status}).`, "ok");
          await loadMine();
        } catch (e) { report(e); }
      });
      row.append(b);
    }
    if (a.status === "pending" || a.status === "approved") {
      const c = el("button", "Cancel", { type: "button", class: "danger" });
      c.addEventListener("click", async () => {
        try {
          await api("POST", `/v1/approvals/${encodeURIComponent(a.id)}/cancel`, {});
          say("Cancelled.", "ok");
          await loadMine();
        } catch (e) { report(e); }
      });
      row.append(c);
    }
    card.append(row);
    cards.append(card);
  }
  list.replaceChildren(cards);
}

// ---- one request (a notification's link) and break-glass reviews ---------

// A request as its requester or anyone else sees it once it is not (or no
// longer) theirs to decide.
function approvalCard(a) {
  const card = el("article", null, { class: "card", "aria-label": `Request ${a.id}` });
  card.append(el("h3", `${a.phone_number} for ${a.requester}: ${a.status}`));
  card.append(definitionList([
    ["Status", a.status],
    ["Requester", a.requester],
    ["Number", a.phone_number],
    ["Labels", labelText(a.labels)],
    ["Reason given", a.release_reason || "none"],
    ["Rules", rules(a)],
    ["Approvals", votes(a.approvals)],
    ["Denials", votes(a.denials)],
    ["Expires", a.status === "pending" ? timeLeft(a.expires_at) : (a.expires_at || "")],
    ["Request id", a.id],
  ]));
  if (a.requester === state.session.user && a.status === "approved") {
    card.append(el("p", "Approved: release it from My requests.", { class: "muted" }));
  }
  return card;
}

function ackForm(r, done) {
  const form = el("form", null, { class: "decide" });
  const id = `ack-reason-${r.id}`;
  form.append(el("label", "Reason", { for: id }));
  const reason = el("textarea", null, { id, rows: "2" });
  form.append(reason);
  const row = el("div", null, { class: "actions" });
  row.append(el("button", "Acknowledge", { type: "submit", class: "primary" }));
  form.append(row);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!reason.value.trim()) {
      say("An acknowledgement needs a reason.", "error");
      reason.focus();
      return;
    }
    try {
      await api("POST", `/v1/reviews/${encodeURIComponent(r.id)}/ack`, { reason: reason.value });
      say("Acknowledged.", "ok");
      await done();
    } catch (e) {
      // The gateway's own refusal, e.g. 403 self_review for the person who
      // released.
      if (e.status !== 401) {
        say(`Not acknowledged: ${e.message} (${e.status} ${e.reason || ""})`.trim(), "error");
      }
    }
  });
  return form;
}

function reviewCard(r, done) {
  const card = el("article", null, { class: "card", "aria-label": `Review ${r.id}` });
  card.append(el("h3", `${r.phone_number} released by ${r.actor}: ${r.status}`));
  const rows = [
    ["Released by", r.actor],
    ["Number", r.phone_number],
    ["Rule", r.rule_id],
    ["Reason given", r.reason],
    ["Review by", (r.from_groups || []).join(", ")],
    ["Due", r.status === "pending" ? (r.overdue ? `overdue (was due ${r.due_at})` : timeLeft(r.due_at))
                                   : r.due_at],
    ["Release request id", r.request_id],
    ["Review id", r.id],
  ];
  if (r.status === "acked") {
    rows.push(["Acknowledged by", r.acked_by], ["Acknowledgement", r.ack_reason],
              ["Acknowledged at", r.acked_at]);
  }
  card.append(definitionList(rows));
  if (r.status === "pending") card.append(ackForm(r, done));
  return card;
}

// The request of the link the console was opened with: the approval with
// its vote buttons when it is mine to decide, the review with its
// acknowledgement form.
async function loadRequest() {
  const link = state.link;
  const box = $("request-detail");
  box.replaceChildren();
  if (!link) return;
  const path = link.kind === "approval" ? "/v1/approvals/" : "/v1/reviews/";
  try {
    const { data } = await api("GET", path + encodeURIComponent(link.id));
    const done = () => loadRequest();
    if (link.kind === "review") {
      box.replaceChildren(reviewCard(data, done));
    } else if (data.status === "pending" && decidable(data, state.session.user)) {
      box.replaceChildren(pendingCard(data, state.session.user, done));
    } else {
      box.replaceChildren(approvalCard(data));
    }
  } catch (e) {
    if (e.status === 401) return;
    box.replaceChildren(el("p", `${link.kind === "approval" ? "Request" : "Review"} ${link.id}: ` +
                                `${e.message}`, { class: "error" }));
  }
}

async function loadReviews() {
  const list = $("reviews-list");
  const { data } = await api("GET", "/v1/reviews?status=pending&limit=100");
  const items = (data && Array.isArray(data.reviews)) ? data.reviews : [];
  const cards = document.createDocumentFragment();
  if (items.length === 0) cards.append(el("p", "Nothing waits for review.", { class: "muted" }));
  for (const r of items) cards.append(reviewCard(r, () => loadReviews()));
  list.replaceChildren(cards);
}

function auditRow(r) {
  const tr = el("tr");
  const seq = el("button", r.seq, { type: "button", "aria-label": `Record ${r.seq} detail` });
  seq.addEventListener("click", () => {
    const d = $("audit-detail");
    d.hidden = false;
    d.textContent = JSON.stringify(r, null, 2);
    d.focus();
  });
  const first = el("td");
  first.append(seq);
  tr.append(first);
  for (const k of ["time", "stage", "principal", "phone_number", "decision", "outcome", "reason",
                   "detail"]) {
    tr.append(el("td", r[k] ?? ""));
  }
  return tr;
}

async function loadAudit(append = false) {
  const load = ++state.auditLoad;  // a newer search supersedes this one
  if (!append) {
    state.auditAfter = null;
    $("audit-table").tBodies[0].replaceChildren();
    $("audit-detail").hidden = true;
    try {
      const { data } = await api("GET", "/v1/audit/head");
      $("audit-head").textContent = `Chain head: ${JSON.stringify(data)}`;
    } catch (e) {
      $("audit-head").textContent = `Chain head: ${e.message}`;
    }
  }
  const params = new URLSearchParams(state.auditQuery);
  params.set("limit", "50");
  if (state.auditAfter !== null) params.set("after_seq", String(state.auditAfter));
  const { data } = await api("GET", `/v1/audit?${params}`);
  if (load !== state.auditLoad) return;
  const body = $("audit-table").tBodies[0];
  for (const r of (data && data.records) || []) body.append(auditRow(r));
  state.auditAfter = data ? data.next_after_seq : null;
  $("audit-more").hidden = state.auditAfter === null || state.auditAfter === undefined;
}

// ---- wiring --------------------------------------------------------------

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const token = $("signin-token").value;
  try {
    const res = await fetch("/v1/session", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token }),
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, data);
    $("signin-token").value = "";
    sessionStorage.setItem(SIGNED_IN, "1");
    const me = await fetch("/v1/session", { credentials: "same-origin" });
    startApp(await me.json());
    $("main").focus();
  } catch (e) {
    say(`Sign-in failed: ${e.message}`, "error");
  }
});

for (const b of document.querySelectorAll("nav [data-view]")) {
  b.addEventListener("click", () => show(b.dataset.view));
}

$("sign-out").addEventListener("click", async () => {
  try { await api("DELETE", "/v1/session"); } catch { /* signed out anyway */ }
  state.session = null;
  showSignIn("Signed out.");
});

$("audit-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(ev.target)) if (v) params.set(k, String(v));
  state.auditQuery = params.toString();
  loadAudit().catch(report);
});

$("audit-more").addEventListener("click", () => loadAudit(true).catch(report));

$("explain-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  explainInto($("explain-out"),
              { user: String(f.get("user")), phone_number: String(f.get("phone_number")) });
});

// "Sign in with <provider>" for each identity provider the gateway offers.
async function loadProviders() {
  const res = await fetch("/ui/providers", { credentials: "same-origin" });
  const data = res.ok ? await res.json().catch(() => null) : null;
  const links = $("signin-providers");
  links.replaceChildren();
  // A link from a notification survives the trip through the provider: the
  // gateway keeps it with the sign-in (paths under /ui/ only).
  const back = state.link ? `&return=${encodeURIComponent(location.pathname + location.search)}` : "";
  for (const p of (data && data.providers) || []) {
    const li = el("li");
    li.append(el("a", `Sign in with ${p.name}`, { href: p.login + back, class: "button" }));
    links.append(li);
  }
  links.hidden = links.children.length === 0;
}

(async () => {
  state.link = deepLink();
  loadProviders().catch(() => {});
  // Back from the provider's sign-in (GET /ui/callback sent us here).
  if (location.hash === "#signed-in") {
    sessionStorage.setItem(SIGNED_IN, "1");
    history.replaceState(null, "", location.pathname + location.search);
  }
  if (!sessionStorage.getItem(SIGNED_IN)) return showSignIn();
  const res = await fetch("/v1/session", { credentials: "same-origin" });
  if (res.ok) startApp(await res.json());
  else showSignIn();
})();
