"use strict";
(() => {
  const API = "/admin/v1/keys";
  const IDLE_LOCK_MS = 15 * 60 * 1000;
  // The admin key: in this variable only (no cookie, no storage).
  let adminKey = null;
  let keys = [];
  let target = null;
  let idleTimer = null;

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

  function render() {
    const showRevoked = $("show-revoked").checked;
    // Newest first; the API lists by id.
    const visible = keys
      .filter((key) => showRevoked || !key.revoked)
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || a.label.localeCompare(b.label));
    const rows = $("key-rows");
    rows.replaceChildren();
    for (const key of visible) {
      const [state, stateText] = status(key);
      const row = document.createElement("tr");
      row.dataset.id = key.id;
      row.className = state;
      cell(row, key.label, "label");
      const hint = cell(row, undefined, "mono");
      hint.textContent = key.hint ? key.hint + "\u2026" : "imported";
      hint.title = key.id;
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
      if (!key.revoked) {
        // A key is rotated once: its successor rotates on.
        if (key.rotated_to) {
          const replaced = document.createElement("span");
          replaced.className = "replaced";
          replaced.textContent = "Rotated";
          replaced.title = "Replaced by " + key.rotated_to;
          actions.appendChild(replaced);
        } else {
          actions.appendChild(button("Rotate", "rotate", "small"));
        }
        actions.appendChild(button("Revoke", "revoke", "small"));
      }
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
    for (const dialog of document.querySelectorAll("dialog")) if (dialog.open) dialog.close();
    $("keys").hidden = true;
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
    } else {
      $("rotate-text").textContent =
        "A new token replaces " + name + ", with the same label, scopes and expiry. It is shown once.";
      show($("rotate-error"), "");
      $("rotate-dialog").showModal();
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
  $("show-revoked").addEventListener("change", render);
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
