// Answers are Markdown: rendered by the vendored marked with raw HTML escaped (what a model writes as HTML is usually
// meant as an example), then sanitized by the vendored DOMPurify: no scripts, no event handlers, no javascript: links,
// no images, no embedded or interactive content. Links open in a new tab and learn nothing about this page. Without the
// libraries the text is shown as it is.

const PURIFY_CONFIG = {
  USE_PROFILES: { html: true },
  // No images (they would load from anywhere: tracking pixels), no embedded or interactive content.
  FORBID_TAGS: ["img", "picture", "source", "video", "audio", "iframe", "object", "embed", "svg", "math", "style",
    "form", "input", "button", "textarea", "select", "dialog"],
  FORBID_ATTR: ["style", "id", "name"],
  RETURN_DOM_FRAGMENT: true,
};

const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A renderer of Markdown into an element, from the UMD globals marked and DOMPurify. */
export function createMarkdown({ marked, DOMPurify } = {}) {
  let parser = null;
  if (marked && typeof marked.Marked === "function" && DOMPurify && DOMPurify.isSupported) {
    parser = new marked.Marked({
      async: false,
      gfm: true,
      breaks: false,
      renderer: { html: (token) => escapeHtml(token.text || "") },
    });
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.nodeName === "A") {
        // Whatever survived the URL check opens elsewhere and learns nothing about this page.
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
  }

  /** Renders text into el, sanitized. */
  return function render(el, text) {
    if (!parser) {
      el.classList.remove("markdown");
      el.textContent = text;
      return;
    }
    let fragment;
    try {
      fragment = DOMPurify.sanitize(parser.parse(text), PURIFY_CONFIG);
    } catch {
      el.classList.remove("markdown");
      el.textContent = text;
      return;
    }
    for (const pre of Array.from(fragment.querySelectorAll("pre"))) decorateCodeBlock(pre);
    el.classList.add("markdown");
    el.replaceChildren(fragment);
  };
}

/** A code block gets its language and a Copy button (handled by the conversation's click listener). */
function decorateCodeBlock(pre) {
  const doc = pre.ownerDocument;
  const element = (tag, className) => {
    const el = doc.createElement(tag);
    el.className = className;
    return el;
  };
  const code = pre.querySelector("code");
  const match = code && /(?:^|\s)language-([\w#+.-]{1,30})/.exec(code.className);
  const language = match ? match[1] : "";
  const block = element("div", "code-block");
  const head = element("div", "code-head");
  const label = element("span", "code-lang");
  label.textContent = language || "code";
  const copy = element("button", "button button-secondary button-small copy-code");
  copy.type = "button";
  copy.textContent = "Copy";
  copy.dataset.label = language ? `Copy the ${language} code` : "Copy the code";
  copy.setAttribute("aria-label", copy.dataset.label);
  head.append(label, copy);
  pre.replaceWith(block);
  block.append(head, pre);
}
