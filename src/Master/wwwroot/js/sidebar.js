// The side panel: this browser's conversations (conversations.js keeps the list), newest activity first, each with
// Rename (in place) and Delete; "New conversation" above them. On a wide screen it sits beside the chat; on a narrow
// one it is a drawer over it, opened with the header's toggle and closed with Esc, its × button, the backdrop, or by
// choosing a conversation. While the drawer is open the rest of the page is inert.

import { UNTITLED, formatActivity } from "./conversations.js";

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  rename: "M4 16.5V20h3.5L18 9.5 14.5 6 4 16.5zM20.7 6.8a1 1 0 0 0 0-1.4l-2.1-2.1a1 1 0 0 0-1.4 0L15.5 5 19 8.5l1.7-1.7z",
  delete: "M9 3h6l1 2h4v2H4V5h4l1-2zm-3 6h12l-1 11a2 2 0 0 1-2 2H9a2 2 0 0 1-2-2L6 9zm4 2v8h1.5v-8H10zm3.5 0v8H15v-8h-1.5z",
};

function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "16");
  svg.setAttribute("height", "16");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

/**
 * @param ui { sidebar, list, toggle, close, backdrop, main }
 * @param onOpen (sessionId) => void: the user chose this conversation
 * @param onRename (sessionId, title) => void
 * @param onDelete (sessionId) => void: the user asked to delete it (the page asks to confirm)
 * @param drawerQuery the media query under which the panel is a drawer
 */
export function createSidebar({ ui, onOpen, onRename, onDelete, drawerQuery = "(max-width: 860px)" }) {
  const drawer = window.matchMedia(drawerQuery);
  let open = false;
  let renaming = null; // sessionId whose title is being edited
  let last = { list: [], currentId: null, busy: new Set() };

  function element(tag, className) {
    const el = document.createElement(tag);
    if (className) el.className = className;
    return el;
  }

  function render(list, currentId, busy = new Set()) {
    last = { list, currentId, busy };
    if (renaming && !list.some((e) => e.sessionId === renaming)) renaming = null;
    // A title being edited is not swept away by a redraw (another tab, the clock): the list is drawn when it is done.
    if (renaming && ui.list.querySelector('[data-testid="conversation-rename-input"]')) return;
    const now = Date.now();
    const focused = document.activeElement;
    const focusKey = focused && ui.list.contains(focused)
      ? [focused.closest("li")?.dataset.sessionId, focused.dataset.testid] : null;
    const items = list.map((e) => item(e, e.sessionId === currentId, busy.has(e.sessionId), now));
    ui.list.replaceChildren(...items);
    if (focusKey) {
      const li = items.find((x) => x.dataset.sessionId === focusKey[0]);
      const again = li && li.querySelector(`[data-testid="${focusKey[1]}"]`);
      if (again) again.focus();
      else if (li) li.querySelector("button")?.focus();
    }
    if (renaming) {
      const input = ui.list.querySelector('[data-testid="conversation-rename-input"]');
      if (input && document.activeElement !== input) input.focus();
    }
  }

  function item(e, current, busy, now) {
    const title = e.title || UNTITLED;
    const li = element("li", "conversation-item");
    li.dataset.sessionId = e.sessionId;
    li.dataset.testid = "conversation-item";
    if (current) li.dataset.current = "true";
    if (busy) li.dataset.busy = "true";

    if (renaming === e.sessionId) {
      const input = element("input", "conversation-rename-input");
      input.type = "text";
      input.value = e.title;
      input.maxLength = 200;
      input.placeholder = UNTITLED;
      input.setAttribute("aria-label", "Conversation title");
      input.dataset.testid = "conversation-rename-input";
      let done = false;
      /** refocus: Enter or Esc (the focus goes back to the Rename button); not when the focus went elsewhere. */
      const finish = (save, refocus) => {
        if (done) return;
        done = true;
        renaming = null;
        if (save) onRename(e.sessionId, input.value); // the page renders the list again
        else render(last.list, last.currentId, last.busy);
        if (refocus) {
          for (const x of ui.list.querySelectorAll("li")) {
            if (x.dataset.sessionId === e.sessionId) x.querySelector('[data-testid="conversation-rename"]')?.focus();
          }
        }
      };
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
          event.preventDefault();
          finish(true, true);
        } else if (event.key === "Escape") {
          event.preventDefault();
          event.stopPropagation();
          finish(false, true);
        }
      });
      input.addEventListener("blur", () => finish(true, false));
      li.append(input);
      return li;
    }

    const openButton = element("button", "conversation-open");
    openButton.type = "button";
    openButton.dataset.testid = "conversation-open";
    if (current) openButton.setAttribute("aria-current", "true");
    const name = element("span", "conversation-title");
    name.textContent = title;
    name.dataset.testid = "conversation-title";
    const when = element("span", "conversation-time");
    when.textContent = busy ? "Deleting…" : formatActivity(e.lastActivity, now);
    when.dataset.testid = "conversation-time";
    openButton.append(name, when);
    openButton.title = title;
    openButton.disabled = busy;
    openButton.addEventListener("click", () => onOpen(e.sessionId));

    const tools = element("div", "conversation-tools");
    const rename = element("button", "icon-button");
    rename.type = "button";
    rename.dataset.testid = "conversation-rename";
    rename.setAttribute("aria-label", `Rename “${title}”`);
    rename.title = "Rename";
    rename.disabled = busy;
    rename.append(icon("rename"));
    rename.addEventListener("click", () => {
      renaming = e.sessionId;
      render(last.list, last.currentId, last.busy);
      const input = ui.list.querySelector('[data-testid="conversation-rename-input"]');
      if (input) input.select();
    });
    const del = element("button", "icon-button icon-button-danger");
    del.type = "button";
    del.dataset.testid = "conversation-delete";
    del.setAttribute("aria-label", `Delete “${title}”`);
    del.title = "Delete";
    del.disabled = busy;
    del.append(icon("delete"));
    del.addEventListener("click", () => onDelete(e.sessionId));
    tools.append(rename, del);
    li.append(openButton, tools);
    return li;
  }

  // ---------------------------------------------------------------- the drawer (narrow screens)

  function setOpen(next, { focus = true } = {}) {
    open = next && drawer.matches;
    ui.sidebar.dataset.open = open ? "true" : "false";
    ui.backdrop.hidden = !open;
    ui.toggle.setAttribute("aria-expanded", open ? "true" : "false");
    ui.main.inert = open;
    if (!focus) return;
    if (open) (ui.list.querySelector('[aria-current="true"]') || ui.sidebar.querySelector("button"))?.focus();
    else if (drawer.matches && ui.sidebar.contains(document.activeElement)) ui.toggle.focus();
  }

  ui.toggle.addEventListener("click", () => setOpen(!open));
  ui.close.addEventListener("click", () => setOpen(false));
  ui.backdrop.addEventListener("click", () => setOpen(false));
  ui.sidebar.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && open && !event.defaultPrevented) {
      event.preventDefault();
      event.stopPropagation();
      setOpen(false);
    }
  });
  drawer.addEventListener("change", () => setOpen(false, { focus: false }));
  setOpen(false, { focus: false });

  return {
    render,
    get open() {
      return open;
    },
    close() {
      if (open) setOpen(false);
    },
  };
}
