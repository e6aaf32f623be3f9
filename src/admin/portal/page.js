"use strict";
(() => {
  const API = "/admin/v1/keys";
  const AUDIT = "/admin/v1/audit";
  const SVG = "http://www.w3.org/2000/svg";
  const OUTCOMES = ["passed", "rate_limited", "usage_exceeded", "refused"];
  const IDLE_LOCK_MS = 15 * 60 * 1000;
  // The admin key: in this variable only (no cookie, no storage).
  let adminKey = null;
  let keys = [];
  let target = null;
  let idleTimer = null;
  // The cursor of the audit log's next (older) page.
  let auditCursor = null;

  const $ = (id) => document.getElementById(id);

  function show(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  function describe(status, data) {
    if (status === 401) return "This admin key was not accepted: it is mistyped, revoked or expired.";
    if (status === 403) return "This key is valid but lacks the scope keys:admin.";
    if (data && data.error && data.error.message) return data.error.message;
    return "The server answered " + status + ".";
  }

  async function call(method, path, body) {
    const init = {
      method,
      headers: { Authorization: "Bearer " + adminKey },
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (_) {
      throw new Error("The server could not be reached.");
    }
    if (response.status === 204) return null;
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      const error = new Error(describe(response.status, data));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  async function loadAll() {
    const all = [];
    let cursor = null;
    do {
      const query = "?limit=1000" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
      const page = await call("GET", API + query);
      all.push(...page.keys);
      cursor = page.next_cursor;
    } while (cursor);
    return all;
  }

  // "2026-11-28T14:03:00Z" -> "2026-11-28 14:03 UTC".
  function when(iso) {
    return iso ? iso.slice(0, 16).replace("T", " ") + " UTC" : "";
  }

  // A time cell: short text, the full time on hover.
  function timeCell(row, iso, short, none) {
    const td = cell(row, iso ? short : none);
    if (iso) td.title = when(iso);
    return td;
  }

  function ago(iso) {
    const minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
    if (minutes < 2) return "just now";
    if (minutes < 60) return minutes + " min ago";
    if (minutes < 48 * 60) return Math.round(minutes / 60) + " h ago";
    return when(iso);
  }

  function status(key) {
    if (key.revoked) return ["revoked", "Revoked"];
    if (key.expires_at) {
      const left = Date.parse(key.expires_at) - Date.now();
      if (left <= 0) return ["expired", "Expired"];
      if (left < 7 * 24 * 3600 * 1000) return ["expiring", "Expires soon"];
    }
    return ["active", "Active"];
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    if (text !== undefined) td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function button(text, action, className) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.className = className;
    b.dataset.action = action;
    return b;
  }

  // Whether `key` matches the search text (label, id or owner) and the
  // status filter.
  function matches(key, text, wanted) {
    if (wanted !== "all" && status(key)[0] !== wanted) return false;
    if (!text) return true;
    return [key.label, key.id, key.owner || ""].some((field) => field.toLowerCase().includes(text));
  }

  function render() {
    const text = $("search").value.trim().toLowerCase();
    const wanted = $("status-filter").value;
    // Newest first; the API lists by id.
    const visible = keys
      .filter((key) => matches(key, text, wanted))
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || a.label.localeCompare(b.label));
    const rows = $("key-rows");
    rows.replaceChildren();
    for (const key of visible) {
      const [state, stateText] = status(key);
      const row = document.createElement("tr");
      row.dataset.id = key.id;
      row.className = state;
      cell(row, key.label, "label");
      cell(row, key.id, "mono id");
      const hint = cell(row, undefined, "mono");
      hint.textContent = key.hint ? key.hint + "\u2026" : "imported";
      cell(row, key.owner || "", "mono owner");
      const scopes = cell(row, undefined, "scopes");
      for (const scope of key.scopes) {
        const chip = document.createElement("span");
        chip.className = "scope mono";
        chip.textContent = scope;
        scopes.appendChild(chip);
      }
      if (key.scopes.length === 0) scopes.textContent = "none";
      timeCell(row, key.created_at, key.created_at.slice(0, 10), "");
      timeCell(row, key.last_used_at, key.last_used_at && ago(key.last_used_at), "Never");
      timeCell(row, key.expires_at, when(key.expires_at).replace(" UTC", ""), "Never");
      const badge = document.createElement("span");
      badge.className = "badge " + state;
      badge.textContent = stateText;
      cell(row).appendChild(badge);
      const actions = cell(row, undefined, "row-actions");
      // A key is rotated once: it names its successor, which rotates on.
      if (key.rotated_to) {
        const replaced = document.createElement("span");
        replaced.className = "replaced";
        replaced.textContent = "Rotated to " + key.rotated_to;
        actions.appendChild(replaced);
      }
      if (!key.revoked) {
        actions.appendChild(button("Edit", "edit", "small"));
        if (!key.rotated_to) actions.appendChild(button("Rotate", "rotate", "small"));
        actions.appendChild(button("Revoke", "revoke", "small"));
      }
      actions.appendChild(button("Usage", "usage", "small"));
      actions.appendChild(button("Delete", "delete", "small"));
      rows.appendChild(row);
    }
    $("empty").hidden = visible.length !== 0;
    const active = keys.filter((key) => !key.revoked).length;
    $("count").textContent = active + " active, " + (keys.length - active) + " revoked";
  }

  async function refresh() {
    try {
      keys = await loadAll();
      show($("keys-error"), "");
      render();
    } catch (error) {
      if (error.status === 401 || error.status === 403) {
        lock(error.message);
      } else {
        show($("keys-error"), error.message);
      }
    }
  }

  function touch() {
    if (idleTimer) clearTimeout(idleTimer);
    if (adminKey) idleTimer = setTimeout(() => lock("Locked after 15 minutes without activity."), IDLE_LOCK_MS);
  }

  function lock(message) {
    adminKey = null;
    keys = [];
    $("key-rows").replaceChildren();
    $("audit-rows").replaceChildren();
    $("usage-chart").replaceChildren();
    for (const dialog of document.querySelectorAll("dialog")) if (dialog.open) dialog.close();
    $("keys").hidden = true;
    $("key-list").hidden = true;
    $("audit").hidden = true;
    $("session").hidden = true;
    $("unlock").hidden = false;
    show($("unlock-error"), message || "");
    $("admin-key").focus();
  }

  async function unlock(event) {
    event.preventDefault();
    const field = $("admin-key");
    adminKey = field.value.trim();
    field.value = "";
    $("unlock-button").disabled = true;
    try {
      keys = await loadAll();
      show($("unlock-error"), "");
      $("unlock").hidden = true;
      $("keys").hidden = false;
      $("session").hidden = false;
      showTab("keys");
      render();
      touch();
    } catch (error) {
      adminKey = null;
      show($("unlock-error"), error.message);
    } finally {
      $("unlock-button").disabled = false;
    }
  }

  function showToken(result, previous) {
    $("token-value").textContent = result.token;
    $("copy").textContent = "Copy";
    $("token-key").textContent = "Key \u201c" + result.key.label + "\u201d, id " + result.key.id + ".";
    if (previous) {
      const text = previous.revoked
        ? "The previous token was revoked."
        : "The previous token keeps working until " + when(previous.expires_at) + ".";
      show($("token-previous"), text);
    } else {
      show($("token-previous"), "");
    }
    $("token-dialog").showModal();
  }

  async function generate(event) {
    event.preventDefault();
    const body = { label: $("new-label").value.trim() };
    const scopes = $("new-scopes").value.split(/\s+/).filter((scope) => scope);
    if (scopes.length) body.scopes = scopes;
    if ($("new-expiry").value) body.expires_at = $("new-expiry").value + "T00:00:00Z";
    $("generate-submit").disabled = true;
    try {
      const result = await call("POST", API, body);
      $("generate-dialog").close();
      $("generate-form").reset();
      showToken(result, null);
      await refresh();
    } catch (error) {
      show($("generate-error"), error.message);
    } finally {
      $("generate-submit").disabled = false;
    }
  }

  async function revoke() {
    $("revoke-confirm").disabled = true;
    try {
      await call("POST", API + "/" + encodeURIComponent(target.id) + "/revoke");
      $("revoke-dialog").close();
      await refresh();
    } catch (error) {
      show($("revoke-error"), error.message);
    } finally {
      $("revoke-confirm").disabled = false;
    }
  }

  // The edit form, filled from `key`.
  function fillEdit(key) {
    $("edit-text").textContent = "Key " + key.id + (key.hint ? " (" + key.hint + "\u2026)" : "") + ".";
    $("edit-label").value = key.label;
    $("edit-scopes").value = key.scopes.join(" ");
    $("edit-expiry").value = key.expires_at ? key.expires_at.slice(0, 10) : "";
    $("edit-owner").value = key.owner || "";
    $("edit-rate-requests").value = key.rate_limit ? key.rate_limit.requests : "";
    $("edit-rate-seconds").value = key.rate_limit ? key.rate_limit.per_seconds : "";
    $("edit-credits").value = key.credits ? key.credits.remaining : "";
    const refill = key.credits && key.credits.refill;
    $("edit-refill-amount").value = refill ? refill.amount : "";
    $("edit-refill-every").value = refill ? refill.every_seconds : "";
    $("edit-ips").value = (key.allowed_ips || []).join("\n");
    $("edit-metadata").value = Object.entries(key.metadata || {})
      .map(([name, value]) => name + "=" + value)
      .join("\n");
  }

  function lines(id) {
    return $(id).value.split("\n").map((line) => line.trim()).filter((line) => line);
  }

  function whole(id) {
    const text = $(id).value.trim();
    return text === "" ? null : Number(text);
  }

  // The fields as the form says them, in the API's shape.
  function readEdit() {
    const requests = whole("edit-rate-requests");
    const credits = whole("edit-credits");
    const refillAmount = whole("edit-refill-amount");
    const metadata = {};
    for (const line of lines("edit-metadata")) {
      const at = line.indexOf("=");
      if (at < 1) throw new Error("Metadata lines are name=value.");
      metadata[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    let creditsValue = null;
    if (credits !== null) {
      creditsValue = { remaining: credits };
      if (refillAmount !== null) {
        creditsValue.refill = { amount: refillAmount, every_seconds: whole("edit-refill-every") };
      }
    }
    return {
      label: $("edit-label").value.trim(),
      scopes: $("edit-scopes").value.split(/\s+/).filter((scope) => scope),
      expires_at: $("edit-expiry").value ? $("edit-expiry").value + "T00:00:00Z" : null,
      owner: $("edit-owner").value.trim() || null,
      rate_limit: requests === null ? null : { requests, per_seconds: whole("edit-rate-seconds") || 60 },
      credits: creditsValue,
      allowed_ips: lines("edit-ips"),
      metadata,
    };
  }

  // What changed: a field the form shows as it was is not sent (sending
  // credits again would start their balance over).
  function changes(key, fields) {
    const before = {
      label: key.label,
      scopes: key.scopes,
      expires_at: key.expires_at ? key.expires_at.slice(0, 10) + "T00:00:00Z" : null,
      owner: key.owner || null,
      rate_limit: key.rate_limit
        ? { requests: key.rate_limit.requests, per_seconds: key.rate_limit.per_seconds }
        : null,
      credits: key.credits
        ? key.credits.refill
          ? { remaining: key.credits.remaining, refill: key.credits.refill }
          : { remaining: key.credits.remaining }
        : null,
      allowed_ips: key.allowed_ips || [],
      metadata: key.metadata || {},
    };
    const body = {};
    for (const name of Object.keys(fields)) {
      if (JSON.stringify(fields[name]) !== JSON.stringify(before[name])) body[name] = fields[name];
    }
    return body;
  }

  async function edit(event) {
    event.preventDefault();
    $("edit-submit").disabled = true;
    try {
      const body = changes(target, readEdit());
      if (Object.keys(body).length) {
        await call("PATCH", API + "/" + encodeURIComponent(target.id), body);
      }
      $("edit-dialog").close();
      await refresh();
    } catch (error) {
      show($("edit-error"), error.message);
    } finally {
      $("edit-submit").disabled = false;
    }
  }

  async function remove() {
    $("delete-confirm").disabled = true;
    try {
      await call("DELETE", API + "/" + encodeURIComponent(target.id));
      $("delete-dialog").close();
      await refresh();
    } catch (error) {
      show($("delete-error"), error.message);
    } finally {
      $("delete-confirm").disabled = false;
    }
  }

  async function rotate(event) {
    event.preventDefault();
    const grace = Number($("rotate-grace").value);
    $("rotate-submit").disabled = true;
    try {
      const result = await call("POST", API + "/" + encodeURIComponent(target.id) + "/rotate", {
        grace_seconds: grace,
      });
      $("rotate-dialog").close();
      showToken(result, result.previous);
      await refresh();
    } catch (error) {
      show($("rotate-error"), error.message);
    } finally {
      $("rotate-submit").disabled = false;
    }
  }

  function onRowAction(event) {
    const b = event.target.closest("button[data-action]");
    if (!b) return;
    const id = b.closest("tr").dataset.id;
    target = keys.find((key) => key.id === id);
    if (!target) return;
    const name = "\u201c" + target.label + "\u201d (" + (target.hint ? target.hint + "\u2026" : target.id) + ")";
    if (b.dataset.action === "revoke") {
      $("revoke-text").textContent =
        "Requests with " + name + " will be refused with 401 from now on. This cannot be undone.";
      show($("revoke-error"), "");
      $("revoke-dialog").showModal();
    } else if (b.dataset.action === "edit") {
      fillEdit(target);
      show($("edit-error"), "");
      $("edit-dialog").showModal();
      $("edit-label").focus();
    } else if (b.dataset.action === "usage") {
      showUsage(target);
    } else if (b.dataset.action === "delete") {
      $("delete-text").textContent =
        name + " will be gone: requests with it are refused with 401, and it leaves this list. " +
        "This cannot be undone.";
      show($("delete-error"), "");
      $("delete-dialog").showModal();
    } else {
      $("rotate-text").textContent =
        "A new token replaces " + name + ", with the same label, scopes and expiry. It is shown once.";
      show($("rotate-error"), "");
      $("rotate-dialog").showModal();
    }
  }

  // The keys or the audit log.
  function showTab(name) {
    $("key-list").hidden = name !== "keys";
    $("audit").hidden = name !== "audit";
    $("tab-keys").setAttribute("aria-current", name === "keys" ? "page" : "false");
    $("tab-audit").setAttribute("aria-current", name === "audit" ? "page" : "false");
    if (name === "audit") loadAudit(true);
  }

  // One page of the audit log (from the newest when `fresh`).
  async function loadAudit(fresh) {
    if (fresh) {
      auditCursor = null;
      $("audit-rows").replaceChildren();
    }
    const query = "?limit=50" + (auditCursor ? "&cursor=" + encodeURIComponent(auditCursor) : "");
    try {
      const page = await call("GET", AUDIT + query);
      for (const event of page.events) {
        const row = document.createElement("tr");
        row.dataset.id = event.id;
        cell(row, when(event.time).replace(" UTC", ""), "mono");
        cell(row, event.action.replace(/_/g, " "), "action");
        cell(row, event.target, "mono");
        cell(row, event.actor, "mono");
        cell(row, event.fields.join(", ") || "\u2014", "fields");
        $("audit-rows").appendChild(row);
      }
      auditCursor = page.next_cursor;
      $("audit-more").hidden = !auditCursor;
      $("audit-empty").hidden = $("audit-rows").children.length !== 0;
      show($("audit-error"), "");
    } catch (error) {
      if (error.status === 401 || error.status === 403) lock(error.message);
      else show($("audit-error"), error.message);
    }
  }

  function svg(name, attributes, parent) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (parent) parent.appendChild(element);
    return element;
  }

  // A stacked bar per day, by outcome; the day's counts on hover.
  function drawUsage(days) {
    const width = 720;
    const height = 220;
    const left = 44;
    const bottom = 24;
    const plot = height - bottom - 8;
    const totals = days.map((day) => OUTCOMES.reduce((sum, name) => sum + day[name], 0));
    const top = Math.max(1, ...totals);
    const chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height,
      width: "100%",
      role: "img",
      "aria-label": "Requests per day by outcome",
    });
    svg("line", { x1: left, y1: 8 + plot, x2: width, y2: 8 + plot, class: "axis" }, chart);
    const topLabel = svg("text", { x: left - 6, y: 16, "text-anchor": "end", class: "tick" }, chart);
    topLabel.textContent = String(top);
    const zero = svg("text", { x: left - 6, y: 8 + plot, "text-anchor": "end", class: "tick" }, chart);
    zero.textContent = "0";
    const step = (width - left) / days.length;
    days.forEach((day, at) => {
      const group = svg("g", { class: "day", "data-date": day.date }, chart);
      const title = svg("title", {}, group);
      title.textContent =
        day.date + ": " + OUTCOMES.map((name) => day[name] + " " + name.replace(/_/g, " ")).join(", ");
      let y = 8 + plot;
      for (const name of OUTCOMES) {
        if (!day[name]) continue;
        const h = Math.max(1, (day[name] / top) * plot);
        y -= h;
        svg("rect", { x: left + at * step + 1, y, width: Math.max(1, step - 2), height: h, class: "bar " + name }, group);
      }
      // A transparent column, so the day's title shows anywhere above it.
      svg("rect", { x: left + at * step, y: 8, width: step, height: plot, class: "hit" }, group);
      if (at === 0 || at === days.length - 1) {
        const label = svg("text", {
          x: left + at * step + step / 2,
          y: height - 6,
          "text-anchor": at === 0 ? "start" : "end",
          class: "tick",
        }, chart);
        label.textContent = day.date;
      }
    });
    $("usage-chart").replaceChildren(chart);
    const sums = OUTCOMES.map((name) => days.reduce((sum, day) => sum + day[name], 0));
    $("usage-total").textContent =
      "Last " + days.length + " days: " + sums[0] + " passed, " + sums[1] + " rate limited, " +
      sums[2] + " out of credits, " + sums[3] + " refused.";
  }

  async function showUsage(key) {
    $("usage-text").textContent =
      "Requests with \u201c" + key.label + "\u201d (" + key.id + ") per UTC day, the last 30 days.";
    $("usage-chart").replaceChildren();
    $("usage-total").textContent = "";
    show($("usage-error"), "");
    $("usage-dialog").showModal();
    try {
      const usage = await call("GET", API + "/" + encodeURIComponent(key.id) + "/usage?days=30");
      drawUsage(usage.days);
    } catch (error) {
      show($("usage-error"), error.message);
    }
  }

  async function copyToken() {
    const token = $("token-value").textContent;
    try {
      await navigator.clipboard.writeText(token);
      $("copy").textContent = "Copied";
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents($("token-value"));
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      $("copy").textContent = "Selected: press Ctrl+C";
    }
  }

  $("unlock-form").addEventListener("submit", unlock);
  $("lock").addEventListener("click", () => lock(""));
  $("search").addEventListener("input", render);
  $("status-filter").addEventListener("change", render);
  $("edit-form").addEventListener("submit", edit);
  $("delete-confirm").addEventListener("click", remove);
  $("generate").addEventListener("click", () => {
    show($("generate-error"), "");
    $("generate-dialog").showModal();
    $("new-label").focus();
  });
  $("generate-form").addEventListener("submit", generate);
  $("rotate-form").addEventListener("submit", rotate);
  $("revoke-confirm").addEventListener("click", revoke);
  $("key-rows").addEventListener("click", onRowAction);
  $("copy").addEventListener("click", copyToken);
  $("tab-keys").addEventListener("click", () => showTab("keys"));
  $("tab-audit").addEventListener("click", () => showTab("audit"));
  $("audit-more").addEventListener("click", () => loadAudit(false));
  $("token-done").addEventListener("click", () => $("token-dialog").close());
  // The token leaves the page as soon as its dialog closes (also by Escape).
  $("token-dialog").addEventListener("close", () => {
    $("token-value").textContent = "";
  });
  for (const b of document.querySelectorAll("[data-close]")) {
    b.addEventListener("click", () => b.closest("dialog").close());
  }
  document.addEventListener("click", touch);
  document.addEventListener("keydown", touch);
})();
