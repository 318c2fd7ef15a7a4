// DOM helpers shared by the portal and the link pages. Everything is built with createElement and
// textContent: no HTML strings, so nothing the API returns can become markup.

let counter = 0;

/** A unique id for label/aria wiring. */
export function uid(prefix = "f") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/**
 * h("button", {type: "button", class: "btn", onclick: fn}, "Label", child, [more]).
 * Attributes: a function under "on…" is an event listener, true sets an empty attribute,
 * false/null/undefined leave it out; "text" sets textContent.
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "text") {
      element.textContent = value;
    } else if (key === "value" && "value" in element) {
      element.value = value;
    } else if (value === true) {
      element.setAttribute(key, "");
    } else {
      element.setAttribute(key, String(value));
    }
  }
  append(element, children);
  return element;
}

/** Replace an element's children; null, undefined and false are left out (not "null" text). */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Tell assistive technology about something that happened outside the focus. */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** Move focus to an element that is not focusable by itself (a heading, a notice). */
export function focusOn(element) {
  if (!element) return;
  if (!element.hasAttribute("tabindex")) element.setAttribute("tabindex", "-1");
  element.focus({ preventScroll: false });
}

/** A labelled form field: label, control, optional hint and a slot for its error. */
export function field({ label, control, hint = null, name = null }) {
  const id = control.id || uid(name || "field");
  control.id = id;
  if (name) control.name = name;
  const describedBy = [];
  let hintElement = null;
  if (hint) {
    hintElement = h("p", { class: "hint", id: `${id}-hint` }, hint);
    describedBy.push(hintElement.id);
  }
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  if (describedBy.length) control.setAttribute("aria-describedby", describedBy.join(" "));
  const wrapper = h("div", { class: "field" }, h("label", { for: id }, label), hintElement, control, error);
  wrapper.control = control;
  wrapper.setError = (message) => {
    const ids = describedBy.slice();
    if (message) {
      error.textContent = message;
      error.hidden = false;
      control.setAttribute("aria-invalid", "true");
      ids.push(error.id);
    } else {
      error.textContent = "";
      error.hidden = true;
      control.removeAttribute("aria-invalid");
    }
    if (ids.length) control.setAttribute("aria-describedby", ids.join(" "));
    else control.removeAttribute("aria-describedby");
  };
  return wrapper;
}

/** A message box: kind "error" (role=alert), "success" or "info" (role=status). */
export function notice(kind, ...content) {
  const role = kind === "error" ? "alert" : "status";
  return h("div", { class: `notice notice-${kind}`, role }, ...content);
}

/** Put a button into its busy state while a request runs; returns the function that ends it. */
export function busy(button, label) {
  const previous = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  if (label) button.textContent = label;
  return () => {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    if (label) button.textContent = previous;
  };
}
