// The web console in a real browser (Debian's chromium, driven by
// playwright-core), against the built gateway, a fake upstream on loopback
// and a real OpenID provider (tests/idp/provider.js, oidc-provider) that
// people sign in at. Run by tests/browser/run.sh (ctest `browser_console`):
//   node --test tests/browser/console.test.mjs   with AGNI_GATEWAY_BINARY set
// Screenshots go to AGNI_SCREENSHOT_DIR (default: the temp folder).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

const BIN = process.env.AGNI_GATEWAY_BINARY;
const API_KEY = "vendor-key-" + crypto.randomBytes(8).toString("hex");
const XSS = "<img src=x onerror=alert(1)>";
const PROD = "+14156660100";
const PROD2 = "+14156660199";
const SANDBOX = "+15550001234";
const PROD3 = "+14156660142";  // approved by a person signed in at the provider
const PROD4 = "+14156660155";  // opened from its Slack link
const PROD5 = "+14156660166";  // opened from its Slack link through the provider
const INCIDENT = "+14156660177";  // released by otto breaking the glass
const IDP_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "idp");

const work = fs.mkdtempSync(path.join(os.tmpdir(), "agni-browser-"));
const shots = process.env.AGNI_SCREENSHOT_DIR || work;
const users = {
  alice: ["support"], bob: ["support"], olga: ["telecom-ops"],
  oscar: ["telecom-ops"], carol: ["compliance"],
  otto: ["telecom-ops"],  // on call: may break the glass
};
const tokens = Object.fromEntries(Object.keys(users).map(
  (u) => [u, "agt_" + crypto.randomBytes(32).toString("base64url")]));

let upstream;
const received = [];
// What the gateway's Slack channel posted (a local stand-in for Slack).
let slack;
const slackMessages = [];
let gateway;
let gatewayLog = "";
let base;
let browser;
const dialogs = [];
let idp;
let idpLog = "";
let issuer;

// A port nothing listens on yet, for the gateway: the provider must know
// the console's redirect URL before the gateway starts.
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// tests/idp/provider.js over https (a self-signed certificate the gateway
// trusts as its ca_file), with the console's auth-code client.
function startProvider(redirect) {
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    "-keyout", path.join(work, "idp.key"), "-out", path.join(work, "idp.pem")], { stdio: "ignore" });
  fs.writeFileSync(path.join(work, "idp-signing.json"), execFileSync("node",
    [path.join(IDP_DIR, "keygen.js"), "--alg", "RS256", "--kid", "console-1"], { cwd: IDP_DIR }));
  fs.writeFileSync(path.join(work, "console-secret"), "agni-console-secret\n", { mode: 0o600 });
  idp = spawn("node", [path.join(IDP_DIR, "provider.js"), "--cert", path.join(work, "idp.pem"),
    "--key", path.join(work, "idp.key"), "--signing-key", path.join(work, "idp-signing.json"),
    "--console-redirect", redirect], { cwd: IDP_DIR, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      idpLog += chunk;
      const m = /listening (\d+)/.exec(idpLog);
      if (m) resolve(Number(m[1]));
    };
    idp.stdout.on("data", onData);
    idp.stderr.on("data", onData);
    idp.on("exit", (code) => reject(new Error(`provider exited ${code}: ${idpLog}`)));
  });
}

function startUpstream() {
  return new Promise((resolve) => {
    upstream = http.createServer((req, res) => {
      received.push({ method: req.method, url: req.url, key: req.headers["x-api-key"],
                      cookie: req.headers.cookie });
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ success: true, message: "Phone number released" }));
    });
    upstream.listen(0, "127.0.0.1", () => resolve(upstream.address().port));
  });
}

function startSlack() {
  return new Promise((resolve) => {
    slack = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => { body += c; });
      req.on("end", () => {
        slackMessages.push(JSON.parse(body));
        res.end("ok");
      });
    });
    slack.listen(0, "127.0.0.1", () => resolve(slack.address().port));
  });
}

// The console link of the first Slack message whose fallback text has
// `needle`: <URL|Open in the console> in its context block. Bounded wait
// (the channel may still be working off the 1,000 requests of the figure).
async function slackLink(needle) {
  for (let i = 0; i < 2400; i++) {
    for (const m of slackMessages) {
      if (!m.text.includes(needle)) continue;
      for (const block of m.blocks) {
        for (const e of block.elements || []) {
          const found = /<([^|>]+)\|Open in the console>/.exec(e.text);
          if (found) return found[1];
        }
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no Slack message with "${needle}": ${JSON.stringify(slackMessages)}`);
}

function startGateway(upstreamPort, port, slackPort) {
  const policy = { rules: [
    { id: "prod-needs-two", effect: "require_approval", groups: ["support"],
      numbers: ["+1415*"], approval: { approvals: 2, from_groups: ["telecom-ops"],
                                       ttl: "24h", execute_within: "1h" } },
    { id: "support-sandbox", effect: "allow", groups: ["support"], numbers: ["+1555*"] },
    { id: "oncall-break-glass", effect: "break_glass", users: ["otto"], numbers: ["+1415*"],
      break_glass: { from_groups: ["telecom-ops"], review_within: "1h" } },
  ] };
  fs.writeFileSync(path.join(work, "policy.json"), JSON.stringify(policy));
  fs.writeFileSync(path.join(work, "inventory.json"), JSON.stringify({
    [PROD]: { env: "prod", carrier: "acme" } }));
  const config = {
    listen: `127.0.0.1:${port}`, admin_listen: "127.0.0.1:0",
    inventory_file: "inventory.json",
    groups: ["support", "telecom-ops", "compliance"],
    identity: { oidc: [{
      name: "corp", issuer, audiences: ["agni-gateway"],
      group_map: { "okta-telecom-ops": "telecom-ops" },
      ca_file: path.join(work, "idp.pem"),
      client_id: "agni-console", client_secret_file: path.join(work, "console-secret"),
      redirect_url: `http://localhost:${port}/ui/callback`,
    }] },
    upstream: { base_url: `http://127.0.0.1:${upstreamPort}`, allow_plain_http: true },
    audit: { path: "audit.db" },
    users: Object.entries(users).map(([name, groups]) => ({
      name, groups,
      token_sha256: crypto.createHash("sha256").update(tokens[name]).digest("hex") })),
    auditors: ["compliance"],
    policy_file: "policy.json",
    // The Pending figure below opens 1,000 requests for two requesters.
    approvals: { max_open_per_user: 1000,
                 notify: [{ type: "slack", url: `http://127.0.0.1:${slackPort}/slack` }] },
    // The links in notifications point here.
    console: { public_url: `http://localhost:${port}` },
  };
  fs.writeFileSync(path.join(work, "gateway.json"), JSON.stringify(config, null, 2));
  gateway = spawn(BIN, ["serve", "--config", path.join(work, "gateway.json")], {
    env: { ...process.env, AGNI_API_KEY: API_KEY }, stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      gatewayLog += chunk;
      const m = /"listen":"127\.0\.0\.1:(\d+)"/.exec(gatewayLog);
      if (m) resolve(Number(m[1]));
    };
    gateway.stdout.on("data", onData);
    gateway.stderr.on("data", onData);
    gateway.on("exit", (code) => reject(new Error(`gateway exited ${code}: ${gatewayLog}`)));
  });
}

async function apiAs(user, method, p, headers = {}) {
  const res = await fetch(base + p, {
    method, headers: { Authorization: `Bearer ${tokens[user]}`, ...headers } });
  return { status: res.status, body: await res.json().catch(() => null) };
}

// A fresh browser context (its own cookies) signed in as `user` with the
// mouse; returns its page on the Pending view.
async function signedIn(user, viewport) {
  const context = await browser.newContext(viewport ? { viewport } : {});
  const page = await context.newPage();
  page.on("dialog", async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  await page.goto(`${base}/ui/`);
  await page.getByLabel("Gateway token").fill(tokens[user]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#who").filter({ hasText: user }).waitFor();
  return page;
}

before(async () => {
  assert.ok(BIN, "AGNI_GATEWAY_BINARY must name the built agni-gateway");
  const upstreamPort = await startUpstream();
  const slackPort = await startSlack();
  const wanted = await freePort();
  issuer = `https://127.0.0.1:${await startProvider(`http://localhost:${wanted}/ui/callback`)}`;
  const port = await startGateway(upstreamPort, wanted, slackPort);
  // localhost: a potentially trustworthy origin, where chromium keeps a
  // Secure cookie over plain HTTP (the gateway accepts it on loopback only).
  base = `http://localhost:${port}`;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (gateway) gateway.kill("SIGTERM");
  if (idp) idp.kill("SIGTERM");
  if (upstream) upstream.close();
  if (slack) slack.close();
});

test("keyboard alone signs in (Tab, type, Enter)", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/ui/`);
  await page.locator("#signin-token").waitFor();
  for (let i = 0; i < 5; i++) {
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
    if (focused === "signin-token") break;
    await page.keyboard.press("Tab");
  }
  assert.equal(await page.evaluate(() => document.activeElement.id), "signin-token");
  await page.keyboard.type(tokens.bob);
  await page.keyboard.press("Enter");
  await page.locator("#who").filter({ hasText: "bob" }).waitFor();
  assert.equal(await page.locator("#view-pending").isVisible(), true);
  await context.close();
});

test("two approvers approve from Pending, the requester releases, the auditor sees it", async () => {
  const requested = await apiAs("alice", "DELETE",
    `/api/v1/phone-numbers/${encodeURIComponent(PROD)}/release/`);
  assert.equal(requested.status, 202);
  const id = requested.body.approval.id;

  // olga approves with a reason that is markup.
  const olga = await signedIn("olga");
  const card = olga.getByRole("article", { name: `Request ${id}` });
  await card.waitFor();
  assert.match(await card.innerText(), /alice/);
  assert.match(await card.innerText(), /prod-needs-two/);
  assert.match(await card.innerText(), /oscar/);  // who else may decide
  assert.match(await card.innerText(), /carrier=acme, env=prod/);  // inventory labels
  // olga is no auditor, yet sees the explain trace of a request she may decide.
  await card.getByRole("button", { name: "Show the explain trace" }).click();
  await card.locator("pre").filter({ hasText: "prod-needs-two" }).waitFor();
  await card.getByLabel("Reason").fill("ticket OPS-1234 checked");
  // The README's screenshot (docs/console-pending.png is this file).
  await olga.screenshot({ path: path.join(shots, "console-pending.png"), fullPage: true });
  await card.getByLabel("Reason").fill(XSS);
  await card.getByRole("button", { name: "Approve" }).click();
  await olga.locator("#status").filter({ hasText: "Approved." }).waitFor();

  // oscar sees olga's vote as text and approves with the keyboard alone.
  const oscar = await signedIn("oscar");
  const card2 = oscar.getByRole("article", { name: `Request ${id}` });
  await card2.waitFor();
  assert.ok((await card2.innerText()).includes(XSS), "the reason shows as text");
  assert.equal(await oscar.locator("img").count(), 0);
  await card2.getByLabel("Reason").focus();
  await oscar.keyboard.type("checked the ticket");
  await oscar.keyboard.press("Tab");  // to Approve
  await oscar.keyboard.press("Enter");
  await oscar.locator("#status").filter({ hasText: "Approved." }).waitFor();
  await oscar.screenshot({ path: path.join(shots, "console-approved.png"), fullPage: true });

  // alice releases from My requests.
  const alice = await signedIn("alice");
  await alice.getByRole("button", { name: "My requests" }).click();
  const mine = alice.getByRole("article", { name: `Request ${id}` });
  await mine.getByRole("button", { name: `Release ${PROD}` }).click();
  await alice.locator("#status").filter({ hasText: "Released (HTTP 200)." }).waitFor();
  await alice.screenshot({ path: path.join(shots, "console-mine.png"), fullPage: true });
  const deletes = received.filter((r) => r.method === "DELETE");
  assert.equal(deletes.length, 1);
  assert.equal(deletes[0].url, `/api/v1/phone-numbers/${encodeURIComponent(PROD)}/release/`);
  assert.equal(deletes[0].key, API_KEY);
  assert.equal(deletes[0].cookie, undefined);

  // carol finds the story on the Audit page.
  const carol = await signedIn("carol");
  await carol.getByRole("button", { name: "Audit" }).click();
  await carol.locator("#audit-form").getByLabel("Phone number").fill(PROD);
  await carol.getByRole("button", { name: "Search" }).click();
  const table = carol.locator("#audit-table tbody");
  await table.locator("tr", { hasText: "released" }).first().waitFor();
  const text = await table.innerText();
  for (const who of ["alice", "olga", "oscar"]) assert.match(text, new RegExp(who));
  assert.match(text, /released/);
  assert.ok(text.includes(XSS), "the reason is text in the audit table too");
  assert.equal(await carol.locator("img").count(), 0);
  await carol.locator("#audit-table tbody button").first().click();
  assert.match(await carol.locator("#audit-detail").innerText(), /"seq"/);
  await carol.screenshot({ path: path.join(shots, "console-audit.png"), fullPage: true });
  assert.deepEqual(dialogs, [], "no dialog fired");
});

test("deny with a reason shows as denied to the requester", async () => {
  const requested = await apiAs("bob", "DELETE",
    `/api/v1/phone-numbers/${encodeURIComponent(PROD2)}/release/`);
  assert.equal(requested.status, 202);
  const id = requested.body.approval.id;
  const olga = await signedIn("olga");
  const card = olga.getByRole("article", { name: `Request ${id}` });
  await card.getByLabel("Reason").fill("not during the freeze");
  await card.getByRole("button", { name: "Deny" }).click();
  await olga.locator("#status").filter({ hasText: "Denied." }).waitFor();
  const bob = await signedIn("bob");
  await bob.getByRole("button", { name: "My requests" }).click();
  const mine = bob.getByRole("article", { name: `Request ${id}` });
  await mine.waitFor();
  assert.match(await mine.innerText(), /denied/);
  assert.match(await mine.innerText(), /not during the freeze/);
});

test("a state change without the CSRF token is refused by the API", async () => {
  const alice = await signedIn("alice");
  const before = received.length;
  const answer = await alice.evaluate(async (number) => {
    const res = await fetch(`/api/v1/phone-numbers/${encodeURIComponent(number)}/release/`,
                            { method: "DELETE", credentials: "same-origin" });
    return { status: res.status, body: await res.json() };
  }, SANDBOX);
  assert.equal(answer.status, 403);
  assert.equal(answer.body.reason, "csrf");
  assert.equal(received.length, before, "nothing reached the upstream");
});

test("an ended session goes back to sign-in", async () => {
  const alice = await signedIn("alice");
  // The session ends behind the page's back (as at its timeout).
  await alice.evaluate(async () => {
    const s = await (await fetch("/v1/session")).json();
    await fetch("/v1/session", { method: "DELETE", headers: { "X-CSRF-Token": s.csrf_token } });
  });
  await alice.getByRole("button", { name: "My requests" }).click();
  await alice.locator("#view-signin").waitFor({ state: "visible" });
  assert.match(await alice.locator("#status").innerText(), /sign in again/);
});

test("phone width (375px) has no horizontal scroll on any page", async () => {
  const carol = await signedIn("carol", { width: 375, height: 800 });
  for (const view of ["Pending", "My requests", "Reviews", "Audit", "Explain"]) {
    await carol.getByRole("button", { name: view, exact: true }).click();
    await carol.waitForTimeout(100);
    const [scroll, width] = await carol.evaluate(
      () => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= width, `${view}: scrollWidth ${scroll} > ${width}`);
  }
  await carol.screenshot({ path: path.join(shots, "console-phone.png"), fullPage: true });
});

test("axe-core finds no serious or critical violation on any page", async () => {
  // bypassCSP: the page's own CSP would (rightly) refuse the injected checker.
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${base}/ui/`);
  await page.locator("#signin-token").waitFor();
  const check = async (name) => {
    await page.addScriptTag({ path: axePath });
    const violations = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ["violations"] });
      return r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    });
    assert.deepEqual(violations, [], `${name}: ${violations.join("; ")}`);
  };
  await check("Sign in");
  await page.getByLabel("Gateway token").fill(tokens.carol);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#who").filter({ hasText: "carol" }).waitFor();
  for (const view of ["Pending", "My requests", "Reviews", "Audit", "Explain"]) {
    await page.getByRole("button", { name: view, exact: true }).click();
    await page.waitForTimeout(200);
    await check(view);
  }
  await context.close();
});

test("figure: Pending with 1,000 open requests (reported, not asserted)", async (t) => {
  const numbers = Array.from({ length: 1000 }, (_, i) => `+1415777${String(i).padStart(4, "0")}`);
  for (let i = 0; i < numbers.length; i += 20) {
    const batch = await Promise.all(numbers.slice(i, i + 20).map((n) =>
      apiAs(i % 40 === 0 ? "alice" : "bob", "DELETE",
            `/api/v1/phone-numbers/${encodeURIComponent(n)}/release/`)));
    for (const r of batch) assert.equal(r.status, 202);
  }
  const apiStarted = Date.now();
  const listed = await apiAs("olga", "GET", "/v1/approvals?status=pending");
  const apiMs = Date.now() - apiStarted;
  assert.equal(listed.status, 200);
  const olga = await signedIn("olga");
  await olga.getByRole("button", { name: "My requests" }).click();
  // Timed inside the page (Playwright's own polling is not part of it): from
  // the click on Pending until its first page and "Show more" are in the DOM.
  const ms = await olga.evaluate(async () => {
    document.getElementById("pending-list").replaceChildren();
    const t0 = performance.now();
    document.querySelector('nav [data-view="pending"]').click();
    while (performance.now() - t0 < 120_000) {
      const last = document.querySelector("#pending-list > :last-child");
      if (last && last.textContent.startsWith("Show more")) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    return Math.round(performance.now() - t0);
  });
  assert.equal(await olga.locator("#pending-list article").count(), 50);
  assert.match(await olga.locator("#pending-list > :last-child").innerText(), /Show more/);
  await olga.locator("#pending-list > :last-child").click();
  await olga.locator("#pending-list article").nth(99).waitFor();
  const figure = `Pending with 1,000 open requests rendered its first page in ${ms} ms ` +
    `(GET /v1/approvals?status=pending alone: ${apiMs} ms)`;
  t.diagnostic(figure);
  console.log(`figure: ${figure}`);
});

test("a person signed in at the provider approves from Pending", async () => {
  const requested = await apiAs("alice", "DELETE",
    `/api/v1/phone-numbers/${encodeURIComponent(PROD3)}/release/`);
  assert.equal(requested.status, 202);
  const id = requested.body.approval.id;
  const first = await apiAs("olga", "POST", `/v1/approvals/${id}/approve`);
  assert.equal(first.status, 200);

  // The provider's certificate is the test's own; the gateway verifies it
  // against its ca_file, the browser is told to accept it.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${base}/ui/`);
  await page.getByRole("link", { name: "Sign in with corp" }).click();
  await page.getByLabel("User name").fill("oscar");
  await page.screenshot({ path: path.join(shots, "provider-sign-in.png") });
  await page.getByRole("button", { name: "Sign in at the provider" }).click();
  await page.locator("#who").filter({ hasText: "oscar@example.com" }).waitFor();
  assert.match(await page.locator("#who").innerText(), /telecom-ops/);
  assert.equal(new URL(page.url()).pathname, "/ui/");

  const card = page.getByRole("article", { name: `Request ${id}` });
  await card.waitFor();
  await card.getByLabel("Reason").fill("signed in at corp");
  await card.getByRole("button", { name: "Approve" }).click();
  await page.locator("#status").filter({ hasText: "Approved." }).waitFor();
  await page.screenshot({ path: path.join(shots, "console-provider-approved.png") });

  const approval = await apiAs("alice", "GET", `/v1/approvals/${id}`);
  assert.equal(approval.body.status, "approved");
  assert.deepEqual(approval.body.approvals.map((v) => v.user), ["olga", "oscar@example.com"]);
  const before = received.length;
  const released = await apiAs("alice", "DELETE",
    `/api/v1/phone-numbers/${encodeURIComponent(PROD3)}/release/`, { "X-Approval-Id": id });
  assert.equal(released.status, 200);
  assert.equal(received.length, before + 1);
  assert.equal(received.at(-1).key, API_KEY);

  // The audit log has the sign-in and the vote under the person's name.
  const rows = await apiAs("carol", "GET", "/v1/audit?user=oscar%40example.com&limit=50");
  assert.equal(rows.status, 200);
  const details = rows.body.records.map((r) => `${r.auth_method}|${r.path}|${r.detail}`);
  assert.ok(details.some((d) => d.startsWith("oidc|/ui/callback|")), details.join("\n"));
  await context.close();
});

// Signs in with a gateway token on a page that shows the sign-in form.
async function signInHere(page, user) {
  await page.getByLabel("Gateway token").fill(tokens[user]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#who").filter({ hasText: user }).waitFor();
}

async function freshPage(options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.on("dialog", async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  return { context, page };
}

test("a Slack message's link opens that request, with its vote buttons, after sign-in", async () => {
  const requested = await apiAs("alice", "DELETE",
    `/api/v1/phone-numbers/${encodeURIComponent(PROD4)}/release/`);
  assert.equal(requested.status, 202);
  const id = requested.body.approval.id;
  const link = await slackLink(PROD4);
  assert.equal(link, `${base}/ui/?approval=${id}`);

  const { context, page } = await freshPage();
  await page.goto(link);
  await signInHere(page, "olga");
  // Not the start page: the request itself, decidable from here.
  await page.locator("#view-request").waitFor({ state: "visible" });
  assert.equal(await page.locator("#view-pending").isVisible(), false);
  const card = page.getByRole("article", { name: `Request ${id}` });
  await card.waitFor();
  assert.match(await card.innerText(), /alice/);
  await card.getByLabel("Reason").fill("from the Slack link");
  await card.getByRole("button", { name: "Approve" }).click();
  await page.locator("#status").filter({ hasText: "Approved." }).waitFor();
  await card.filter({ hasText: "olga" }).waitFor();
  const approval = await apiAs("alice", "GET", `/v1/approvals/${id}`);
  assert.deepEqual(approval.body.approvals.map((v) => v.user), ["olga"]);
  assert.equal(new URL(page.url()).search, `?approval=${id}`);
  await context.close();
});

test("a break-glass link opens the review: not by the actor (the gateway's 403), then acked", async () => {
  const released = await apiAs("otto", "DELETE",
    `/api/v1/phone-numbers/${encodeURIComponent(INCIDENT)}/release/`,
    { "X-Release-Reason": "INC-9 outage" });
  assert.equal(released.status, 200);
  const link = await slackLink("BREAK-GLASS");
  assert.match(link, new RegExp(`^${base}/ui/\\?review=rev_[0-9a-f]+$`));
  const id = new URL(link).searchParams.get("review");

  // otto released it and may not review it himself: the gateway says why.
  const otto = await freshPage();
  await otto.page.goto(link);
  await signInHere(otto.page, "otto");
  const own = otto.page.getByRole("article", { name: `Review ${id}` });
  await own.waitFor();
  assert.match(await own.innerText(), /INC-9 outage/);
  await own.getByLabel("Reason").fill("all fine");
  await own.getByRole("button", { name: "Acknowledge" }).click();
  const refusal = otto.page.locator("#status").filter({ hasText: "self_review" });
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /403/);
  assert.match(await refusal.innerText(), /someone else in telecom-ops/);
  await otto.context.close();

  // oscar finds it under Reviews; olga acknowledges it from the link.
  const oscar = await signedIn("oscar");
  await oscar.getByRole("button", { name: "Reviews" }).click();
  await oscar.getByRole("article", { name: `Review ${id}` }).waitFor();
  const olga = await freshPage();
  await olga.page.goto(link);
  await signInHere(olga.page, "olga");
  const card = olga.page.getByRole("article", { name: `Review ${id}` });
  await card.getByLabel("Reason").fill("checked INC-9");
  await card.getByRole("button", { name: "Acknowledge" }).click();
  await olga.page.locator("#status").filter({ hasText: "Acknowledged." }).waitFor();
  await card.filter({ hasText: "checked INC-9" }).waitFor();
  await olga.page.screenshot({ path: path.join(shots, "console-review.png"), fullPage: true });
  const review = await apiAs("carol", "GET", `/v1/reviews/${id}`);
  assert.equal(review.body.status, "acked");
  assert.equal(review.body.acked_by, "olga");
  await olga.context.close();
});

test("a link survives the sign-in at the provider (login, provider, callback)", async () => {
  const requested = await apiAs("bob", "DELETE",
    `/api/v1/phone-numbers/${encodeURIComponent(PROD5)}/release/`);
  assert.equal(requested.status, 202);
  const id = requested.body.approval.id;
  const link = await slackLink(PROD5);

  const { context, page } = await freshPage({ ignoreHTTPSErrors: true });
  await page.goto(link);
  await page.getByRole("link", { name: "Sign in with corp" }).click();
  await page.getByLabel("User name").fill("oscar");
  await page.getByRole("button", { name: "Sign in at the provider" }).click();
  await page.locator("#who").filter({ hasText: "oscar@example.com" }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/ui/");
  assert.equal(new URL(page.url()).search, `?approval=${id}`);
  const card = page.getByRole("article", { name: `Request ${id}` });
  await card.getByRole("button", { name: "Approve" }).waitFor();
  assert.equal(await page.locator("#view-request").isVisible(), true);
  await context.close();
});

test("an open redirect through the sign-in stays on the console", async () => {
  const { context, page } = await freshPage({ ignoreHTTPSErrors: true });
  const attempts = [];
  page.on("request", (r) => attempts.push(r.url()));
  await page.goto(`${base}/ui/login?provider=corp&return=${encodeURIComponent("https://evil.example/")}`);
  await page.getByLabel("User name").fill("oscar");
  await page.getByRole("button", { name: "Sign in at the provider" }).click();
  await page.locator("#who").filter({ hasText: "oscar@example.com" }).waitFor();
  assert.equal(new URL(page.url()).origin, base);
  assert.equal(new URL(page.url()).pathname, "/ui/");
  assert.equal(await page.locator("#view-pending").isVisible(), true);
  assert.ok(!attempts.some((u) => new URL(u).hostname === "evil.example"), attempts.join("\n"));
  // The console page itself ignores a return parameter too.
  await page.goto(`${base}/ui/?return=${encodeURIComponent("https://evil.example/")}`);
  await page.locator("#who").filter({ hasText: "oscar@example.com" }).waitFor();
  assert.equal(new URL(page.url()).origin, base);
  await context.close();
});
