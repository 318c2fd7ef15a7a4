// The customer portal: one page at /portal/{account_id}, views chosen by the URL's hash
// (#/subscriptions, #/subscriptions/{id}, #/invoices, #/invoices/{id}, #/payment-methods,
// #/details, #/order). It uses only the portal routes of the API (docs/api/portal.md).
//
// The session token lives in sessionStorage (this tab only, gone when it closes) and nowhere
// else; it is dropped on logout and on any 401. A merchant's one-time link (?token=...) is taken
// out of the address bar and the history as soon as the page reads it, then exchanged.

import { ApiError, idempotencyKey, request, takeToken } from "./api.js";
import { applyAccent } from "./color.js";
import { announce, busy, field, fill, focusOn, h, notice } from "./dom.js";
import { date, money, setCurrencies } from "./format.js";
import {
  chooseLanguage,
  errorText,
  fieldErrorText,
  language,
  languageSwitcher,
  locale,
  onLanguageChange,
  setLanguage,
  t,
} from "./i18n.js";

const ACCOUNT = decodeURIComponent(window.location.pathname.split("/")[2] || "");
const SESSION_KEY = `portico.portal.${ACCOUNT}`;
const RESEND_FALLBACK_SECONDS = 60;

const main = document.getElementById("main");
const nav = document.getElementById("portal-nav");

const app = {
  config: null,
  session: null,
  login: { step: "email", email: "", resendAt: 0, message: null },
  flash: null,
  timer: null,
  renderId: 0,
};

class SessionEnded extends Error {}

// ------------------------------------------------------------------------------ session

function loadSession() {
  try {
    const saved = JSON.parse(window.sessionStorage.getItem(SESSION_KEY) || "null");
    return saved && typeof saved.token === "string" ? saved : null;
  } catch {
    return null;
  }
}

function saveSession(login) {
  app.session = { token: login.token, expires_at: login.expires_at, customer: login.customer };
  try {
    window.sessionStorage.setItem(SESSION_KEY, JSON.stringify(app.session));
  } catch {
    // storage refused (private mode): the session lives in memory for this page
  }
}

function dropSession() {
  app.session = null;
  try {
    window.sessionStorage.removeItem(SESSION_KEY);
  } catch {
    // nothing stored
  }
}

/** A call with the portal token; a 401 ends the session here and shows the login. */
async function portal(method, path, options = {}) {
  if (!app.session) throw new SessionEnded();
  try {
    return await request(method, path, { ...options, token: app.session.token });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      dropSession();
      app.login = { step: "email", email: app.login.email, resendAt: 0, message: { kind: "info", text: t("login.session_ended") } };
      route();
      throw new SessionEnded();
    }
    throw error;
  }
}

function context() {
  return { company: app.config ? app.config.company.name : "" };
}

function explain(error) {
  return errorText(error, context());
}

// ------------------------------------------------------------------------------ navigation

function go(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function parts() {
  return window.location.hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter(Boolean)
    .map((part) => decodeURIComponent(part));
}

function stopTimer() {
  if (app.timer) window.clearInterval(app.timer);
  app.timer = null;
}

function route({ focus = true } = {}) {
  stopTimer();
  renderChrome();
  if (!app.session) return show(loginView, { focus });
  const [section, id] = parts();
  const views = {
    subscriptions: () => (id ? subscriptionView(id) : subscriptionsView()),
    invoices: () => (id ? invoiceView(id) : invoicesView()),
    "payment-methods": paymentMethodsView,
    details: detailsView,
    order: orderView,
  };
  const view = views[section || "subscriptions"] || notFoundView;
  return show(view, { focus });
}

/** Render a view into <main>: a loading state, then its content; focus its heading (or notice). */
async function show(view, { focus = true } = {}) {
  const id = ++app.renderId;
  main.setAttribute("aria-busy", "true");
  fill(main, h("p", { class: "loading" }, t("loading")));
  let content;
  try {
    content = await view();
  } catch (error) {
    if (error instanceof SessionEnded) return;
    content = [h("h1", {}, t("error.title")), notice("error", explain(error))];
  }
  if (id !== app.renderId) return;
  main.removeAttribute("aria-busy");
  fill(main, ...[content].flat());
  const heading = main.querySelector("h1");
  document.title = `${heading ? heading.textContent : ""} – ${app.config.company.name}`;
  let target = main.querySelector("[data-autofocus]") || heading;
  if (app.flash) {
    const box = notice(app.flash.kind, app.flash.text);
    if (heading) heading.after(box);
    else main.prepend(box);
    app.flash = null;
    if (!main.querySelector("[data-autofocus]")) target = box;
  }
  if (focus) focusOn(target);
}

function guard(action) {
  return async (event) => {
    try {
      await action(event);
    } catch (error) {
      if (!(error instanceof SessionEnded)) throw error;
    }
  };
}

// ------------------------------------------------------------------------------ chrome

function renderChrome() {
  const { company } = app.config;
  const brand = document.getElementById("brand");
  const logo = company.logo_url
    ? h("img", { class: "logo", src: company.logo_url, alt: t("brand.logo", { company: company.name }) })
    : null;
  if (logo) logo.addEventListener("error", () => logo.remove());
  fill(brand, logo, h("span", { class: "brand-name" }, company.name));

  const logout = document.getElementById("logout");
  if (app.session && !logout) {
    document
      .getElementById("brand-tools")
      .append(h("button", { type: "button", id: "logout", class: "btn btn-quiet", onclick: logOut }, t("nav.logout")));
  } else if (!app.session && logout) {
    logout.remove();
  } else if (logout) {
    logout.textContent = t("nav.logout");
  }

  nav.hidden = !app.session;
  if (app.session) {
    const [section] = parts();
    const current = section || "subscriptions";
    const links = [
      ["subscriptions", t("nav.subscriptions")],
      ["invoices", t("nav.invoices")],
      ["payment-methods", t("nav.payment_methods")],
      ["details", t("nav.details")],
    ];
    if (app.config.features.order) links.push(["order", t("nav.order")]);
    nav.setAttribute("aria-label", t("nav.label"));
    fill(nav, 
      h(
        "ul",
        {},
        links.map(([key, label]) =>
          h("li", {}, h("a", { href: `#/${key}`, "aria-current": key === current ? "page" : false }, label)),
        ),
      ),
    );
  } else {
    fill(nav);
  }

  const footer = document.getElementById("company");
  fill(footer, 
    h(
      "div",
      { class: "company-inner" },
      h("p", { class: "company-name" }, company.name),
      company.address ? h("p", {}, company.address) : null,
      company.email ? h("p", {}, h("a", { href: `mailto:${company.email}` }, company.email)) : null,
      app.config.terms_url ? h("p", {}, h("a", { href: app.config.terms_url, rel: "noopener" }, t("brand.terms"))) : null,
    ),
  );
}

async function logOut() {
  const token = app.session && app.session.token;
  dropSession();
  app.login = { step: "email", email: "", resendAt: 0, message: { kind: "success", text: t("login.logged_out") } };
  go("#/");
  if (token) {
    try {
      await request("POST", "/portal/logout", { token });
    } catch {
      // the token is gone from this page either way; the server ends it at its idle timeout
    }
  }
}

// ------------------------------------------------------------------------------ login

function loginView() {
  const state = app.login;
  const message = state.message ? notice(state.message.kind, state.message.text) : null;
  if (state.step === "code") {
    return [h("h1", {}, t("login.code_title")), message, codeForm()];
  }
  return [
    h("h1", {}, t("login.title")),
    h("p", {}, t("login.intro", context())),
    message,
    emailForm(),
  ];
}

async function requestCode(email) {
  const sent = await request("POST", `/portal/${encodeURIComponent(ACCOUNT)}/login`, {
    body: { email, language: language() },
  });
  return Date.now() + (sent.resend_after_seconds || RESEND_FALLBACK_SECONDS) * 1000;
}

function emailForm() {
  const input = h("input", {
    type: "email",
    autocomplete: "email",
    required: true,
    spellcheck: "false",
    autocapitalize: "none",
    value: app.login.email,
  });
  const email = field({ label: t("login.email"), control: input, name: "email" });
  const problems = h("div", { class: "form-problems" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("login.send_code"));
  const onSubmit = async (event) => {
    event.preventDefault();
    email.setError(null);
    fill(problems);
    const value = input.value.trim();
    if (!value || !input.checkValidity()) {
      email.setError(t("login.email_invalid"));
      input.focus();
      return;
    }
    const done = busy(submit, t("busy.sending"));
    try {
      const resendAt = await requestCode(value);
      app.login = { step: "code", email: value, resendAt, message: { kind: "success", text: t("login.code_sent", { email: value }) } };
      route();
    } catch (error) {
      done();
      if (error.code === "resend_too_soon") {
        const wait = error.retryAfter || RESEND_FALLBACK_SECONDS;
        app.login = { step: "code", email: value, resendAt: Date.now() + wait * 1000, message: { kind: "info", text: explain(error) } };
        route();
      } else if (["unknown_email", "validation_error"].includes(error.code)) {
        email.setError(error.code === "validation_error" ? t("login.email_invalid") : explain(error));
        input.focus();
      } else {
        fill(problems, notice("error", explain(error)));
      }
    }
  };
  return h("form", { class: "stack", novalidate: true, onsubmit: onSubmit }, email, problems, h("div", { class: "actions" }, submit));
}

function codeForm() {
  const state = app.login;
  const input = h("input", {
    type: "text",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
    maxlength: "6",
    required: true,
    spellcheck: "false",
    "data-autofocus": true,
  });
  const code = field({ label: t("login.code"), control: input, name: "code", hint: t("login.code_hint", { email: state.email }) });
  const problems = h("div", { class: "form-problems" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("login.submit"));
  const resend = h("button", { type: "button", class: "btn btn-secondary", id: "resend" }, t("login.resend"));
  const other = h("button", { type: "button", class: "btn btn-quiet" }, t("login.other_email"));

  const tick = () => {
    const left = Math.ceil((app.login.resendAt - Date.now()) / 1000);
    if (left > 0) {
      resend.disabled = true;
      resend.textContent = t("login.resend_in", { seconds: left });
    } else {
      resend.disabled = false;
      resend.textContent = t("login.resend");
      stopTimer();
    }
  };
  stopTimer();
  tick();
  if (resend.disabled) app.timer = window.setInterval(tick, 1000);

  resend.addEventListener("click", async () => {
    fill(problems);
    code.setError(null);
    const done = busy(resend, t("busy.sending"));
    try {
      app.login.resendAt = await requestCode(state.email);
      done();
      fill(problems, notice("success", t("login.code_resent", { email: state.email })));
    } catch (error) {
      done();
      if (error.code === "resend_too_soon") {
        app.login.resendAt = Date.now() + (error.retryAfter || RESEND_FALLBACK_SECONDS) * 1000;
      }
      fill(problems, notice("error", explain(error)));
    }
    stopTimer();
    tick();
    if (resend.disabled) app.timer = window.setInterval(tick, 1000);
    input.focus();
  });
  other.addEventListener("click", () => {
    app.login = { step: "email", email: state.email, resendAt: 0, message: null };
    route();
  });

  const onSubmit = async (event) => {
    event.preventDefault();
    code.setError(null);
    fill(problems);
    const value = input.value.replace(/\s+/g, "");
    if (!/^[0-9]{6}$/.test(value)) {
      code.setError(t("login.code_invalid_format"));
      input.focus();
      return;
    }
    const done = busy(submit, t("busy.checking"));
    try {
      const login = await request("POST", `/portal/${encodeURIComponent(ACCOUNT)}/login/verify`, {
        body: { email: state.email, code: value },
      });
      stopTimer();
      loggedIn(login);
    } catch (error) {
      done();
      if (["invalid_code", "code_expired", "code_exhausted", "validation_error"].includes(error.code)) {
        code.setError(explain(error));
        input.select();
        input.focus();
      } else {
        fill(problems, notice("error", explain(error)));
      }
    }
  };
  return h(
    "form",
    { class: "stack", novalidate: true, onsubmit: onSubmit },
    code,
    problems,
    h("div", { class: "actions" }, submit, resend, other),
  );
}

function loggedIn(login) {
  saveSession(login);
  app.login = { step: "email", email: "", resendAt: 0, message: null };
  const name = login.customer && (login.customer.name || login.customer.email);
  app.flash = { kind: "success", text: t("login.welcome", { name: name || "" }) };
  const [section] = parts();
  go(section ? window.location.hash : "#/subscriptions");
}

async function exchangeLink(token) {
  try {
    const login = await request("POST", `/portal/${encodeURIComponent(ACCOUNT)}/login/link`, { body: { token } });
    saveSession(login);
    const name = login.customer && (login.customer.name || login.customer.email);
    app.flash = { kind: "success", text: t("login.welcome", { name: name || "" }) };
  } catch (error) {
    dropSession();
    const text = ["invalid_token", "validation_error"].includes(error.code) ? t("error.invalid_link") : explain(error);
    app.login = { step: "email", email: "", resendAt: 0, message: { kind: "error", text } };
  }
}

// ------------------------------------------------------------------------------ pieces

function badge(kind, state) {
  return h("span", { class: `badge badge-${state}` }, t(`${kind}.state.${state}`));
}

function price(plan) {
  return `${money(plan.amount, plan.currency, locale())} ${t(`interval.${plan.interval_unit}`, { count: plan.interval_count })}`;
}

function card(method) {
  return t("pm.card", { brand: brandName(method.brand), last4: method.last4 });
}

function brandName(brand) {
  const key = `pm.brand.${String(brand).toLowerCase()}`;
  const text = t(key);
  return text === key ? brand : text;
}

function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows.filter(Boolean).map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

function subscriptionFacts(sub) {
  const when = (iso) => date(iso, locale());
  return [
    [t("subscription.status"), badge("subscription", sub.state)],
    [t("subscription.price"), price(sub.plan)],
    sub.state === "trialing" && sub.trial_end ? [t("subscription.trial_end"), when(sub.trial_end)] : null,
    ["active", "trialing"].includes(sub.state) && !sub.ends_at ? [t("subscription.renews"), when(sub.current_period_end)] : null,
    sub.paused_at ? [t("subscription.paused_at"), when(sub.paused_at)] : null,
    sub.resume_at ? [t("subscription.resume_at"), when(sub.resume_at)] : null,
    sub.ends_at ? [t(sub.state === "expired" ? "subscription.ended" : "subscription.ends_at"), when(sub.ends_at)] : null,
    [t("subscription.payment_method"), sub.payment_method ? card(sub.payment_method) : t("subscription.no_payment_method")],
  ];
}

function table(caption, headers, rows, { numeric = [], dates = [] } = {}) {
  const cellClass = (i) => (numeric.includes(i) ? "num" : dates.includes(i) ? "date" : false);
  const wrapper = h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": caption, tabindex: "0" },
    h(
      "table",
      {},
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, headers.map((text, i) => h("th", { scope: "col", class: numeric.includes(i) ? "num" : false }, text)))),
      h(
        "tbody",
        {},
        rows.map((cells) => h("tr", {}, cells.map((cell, i) => h("td", { class: cellClass(i) }, cell)))),
      ),
    ),
  );
  return wrapper;
}

function invoiceTable(caption, invoices) {
  return table(
    caption,
    [t("invoice.handle"), t("invoice.date"), t("invoice.amount"), t("invoice.status")],
    invoices.map((invoice) => [
      h("a", { href: `#/invoices/${encodeURIComponent(invoice.invoice_id)}` }, invoice.handle),
      date(invoice.created_at, locale()),
      money(invoice.amount, invoice.currency, locale()),
      badge("invoice", invoice.state),
    ]),
    { numeric: [2], dates: [1] },
  );
}

/** Show a problem's field errors on the fields it names (loc: ["body", ...path]). */
function fieldErrors(error, fields) {
  const errors = (error.problem && error.problem.errors) || [];
  let first = null;
  for (const item of errors) {
    const path = (item.loc || []).slice(1).join(".");
    const target = fields[path];
    if (target) {
      target.setError(fieldErrorText(item));
      first = first || target.control;
    }
  }
  return first;
}

// ------------------------------------------------------------------------------ subscriptions

async function subscriptionsView() {
  const { items } = await portal("GET", "/portal/subscriptions");
  const heading = h("h1", {}, t("subscriptions.title"));
  if (!items.length) {
    return [
      heading,
      h("p", {}, t("subscriptions.none")),
      app.config.features.order ? h("p", {}, h("a", { href: "#/order" }, t("order.link"))) : null,
    ];
  }
  return [
    heading,
    h(
      "ul",
      { class: "cards" },
      items.map((sub) =>
        h(
          "li",
          { class: "card" },
          h("h2", {}, sub.plan.name),
          sub.payment_failed ? notice("warning", t("subscription.payment_failed")) : null,
          facts(subscriptionFacts(sub)),
          h(
            "p",
            {},
            h("a", { class: "btn btn-secondary", href: `#/subscriptions/${encodeURIComponent(sub.subscription_id)}` }, t("subscriptions.manage", { plan: sub.plan.name })),
          ),
        ),
      ),
    ),
  ];
}

async function subscriptionView(id) {
  const [sub, methods] = await Promise.all([
    portal("GET", `/portal/subscriptions/${encodeURIComponent(id)}`),
    portal("GET", "/portal/payment-methods"),
  ]);
  const { features } = app.config;
  const problems = h("div", { class: "form-problems" });
  const again = () => show(() => subscriptionView(id));

  const act = async (action, body, button) => {
    fill(problems);
    const done = busy(button, t("busy.working"));
    try {
      await portal("POST", `/portal/subscriptions/${encodeURIComponent(id)}/${action}`, { body });
      app.flash = { kind: "success", text: t(`subscription.done.${action}`) };
      again();
    } catch (error) {
      done();
      if (error instanceof SessionEnded) return;
      if (error.code === "invalid_state_transition") {
        app.flash = { kind: "error", text: explain(error) };
        again();
        return;
      }
      fill(problems, notice("error", explain(error)));
    }
  };

  const actions = [];
  if (sub.state === "active") {
    actions.push(features.pause ? pauseControl(act) : h("p", { class: "muted" }, t("subscription.pause_unavailable", context())));
  }
  if (sub.state === "paused") {
    const resume = h("button", { type: "button", class: "btn btn-primary" }, t("subscription.resume"));
    resume.addEventListener("click", guard(() => act("resume", undefined, resume)));
    actions.push(h("div", { class: "actions" }, resume));
  }
  if (["trialing", "active", "paused"].includes(sub.state)) {
    actions.push(features.cancel ? cancelControl(sub, act) : h("p", { class: "muted" }, t("subscription.cancel_unavailable", context())));
  }

  return [
    h("p", { class: "breadcrumb" }, h("a", { href: "#/subscriptions" }, t("subscriptions.back"))),
    h("h1", {}, sub.plan.name),
    sub.payment_failed ? notice("warning", t("subscription.payment_failed")) : null,
    facts(subscriptionFacts(sub)),
    actions.length
      ? h("section", { class: "panel", "aria-labelledby": "manage-title" }, h("h2", { id: "manage-title" }, t("subscription.manage")), problems, actions)
      : problems,
    sub.state !== "expired" ? paymentMethodControl(sub, methods.items) : null,
    h(
      "section",
      { class: "panel" },
      h("h2", { id: "sub-invoices" }, t("subscription.invoices")),
      sub.invoices.length ? invoiceTable(t("subscription.invoices"), sub.invoices) : h("p", {}, t("invoices.none")),
    ),
  ];
}

function pauseControl(act) {
  const open = h("button", { type: "button", class: "btn btn-secondary", "aria-expanded": "false", "aria-controls": "pause-form" }, t("subscription.pause"));
  const input = h("input", { type: "date", min: tomorrow() });
  const resumeAt = field({ label: t("subscription.pause_until"), control: input, name: "resume_at", hint: t("subscription.pause_until_hint") });
  const confirm = h("button", { type: "submit", class: "btn btn-primary" }, t("subscription.pause_confirm"));
  const keep = h("button", { type: "button", class: "btn btn-quiet" }, t("subscription.keep_running"));
  const form = h(
    "form",
    { id: "pause-form", class: "stack inset", hidden: true, novalidate: true },
    h("p", {}, t("subscription.pause_explain")),
    resumeAt,
    h("div", { class: "actions" }, confirm, keep),
  );
  open.addEventListener("click", () => {
    form.hidden = false;
    open.setAttribute("aria-expanded", "true");
    input.focus();
  });
  keep.addEventListener("click", () => {
    form.hidden = true;
    open.setAttribute("aria-expanded", "false");
    open.focus();
  });
  form.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      resumeAt.setError(null);
      const body = {};
      if (input.value) {
        if (input.value < tomorrow()) {
          resumeAt.setError(t("subscription.pause_until_past"));
          input.focus();
          return;
        }
        body.resume_at = new Date(`${input.value}T00:00:00`).toISOString().replace(/\.\d{3}Z$/, "Z");
      }
      await act("pause", body, confirm);
    }),
  );
  return h("div", { class: "control" }, h("div", { class: "actions" }, open), form);
}

function tomorrow() {
  const day = new Date();
  day.setDate(day.getDate() + 1);
  return `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, "0")}-${String(day.getDate()).padStart(2, "0")}`;
}

function cancelControl(sub, act) {
  const { config } = app;
  const open = h("button", { type: "button", class: "btn btn-danger-outline", "aria-expanded": "false", "aria-controls": "cancel-form" }, t("subscription.cancel"));
  const lang = language();
  const select = h(
    "select",
    { required: true },
    h("option", { value: "" }, t("subscription.cancel_reason_choose")),
    config.cancellation_reasons.map((reason) => h("option", { value: reason.id }, (reason.labels && reason.labels[lang]) || reason.label)),
  );
  const reason = field({ label: t("subscription.cancel_reason"), control: select, name: "reason" });
  const textarea = h("textarea", { rows: "3", maxlength: "1000" });
  const comment = field({ label: t("subscription.cancel_comment"), control: textarea, name: "comment" });
  const timing =
    config.cancel_timing === "immediately"
      ? t("subscription.cancel_now_explain")
      : t("subscription.cancel_period_end_explain", { date: date(sub.current_period_end, locale()) });
  const confirm = h("button", { type: "submit", class: "btn btn-danger" }, t("subscription.cancel_confirm"));
  const keep = h("button", { type: "button", class: "btn btn-quiet" }, t("subscription.keep"));
  const form = h(
    "form",
    { id: "cancel-form", class: "stack inset", hidden: true, novalidate: true },
    h("p", {}, timing),
    reason,
    comment,
    h("div", { class: "actions" }, confirm, keep),
  );
  open.addEventListener("click", () => {
    form.hidden = false;
    open.setAttribute("aria-expanded", "true");
    select.focus();
  });
  keep.addEventListener("click", () => {
    form.hidden = true;
    open.setAttribute("aria-expanded", "false");
    open.focus();
  });
  form.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      reason.setError(null);
      if (!select.value) {
        reason.setError(t("subscription.cancel_reason_required"));
        select.focus();
        return;
      }
      const body = { reason: select.value };
      if (textarea.value.trim()) body.comment = textarea.value.trim();
      await act("cancel", body, confirm);
    }),
  );
  return h("div", { class: "control" }, h("div", { class: "actions" }, open), form);
}

function paymentMethodControl(sub, methods) {
  const section = h("section", { class: "panel", "aria-labelledby": "sub-pm" }, h("h2", { id: "sub-pm" }, t("subscription.payment_method")));
  if (!methods.length) {
    section.append(h("p", {}, t("pm.none")), h("p", {}, h("a", { href: "#/payment-methods" }, t("pm.add_link"))));
    return section;
  }
  const current = sub.payment_method ? sub.payment_method.payment_method_id : "";
  const select = h(
    "select",
    {},
    current ? null : h("option", { value: "" }, t("pm.choose")),
    methods.map((method) => {
      const option = h("option", { value: method.payment_method_id }, card(method));
      option.selected = method.payment_method_id === current;
      return option;
    }),
  );
  const choice = field({ label: t("subscription.payment_method_choose"), control: select, name: "payment_method_id" });
  const problems = h("div", { class: "form-problems" });
  const save = h("button", { type: "submit", class: "btn btn-secondary" }, t("subscription.payment_method_save"));
  const form = h("form", { class: "stack", novalidate: true }, choice, problems, h("div", { class: "actions" }, save));
  form.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      choice.setError(null);
      fill(problems);
      if (!select.value) {
        choice.setError(t("pm.choose"));
        select.focus();
        return;
      }
      const done = busy(save, t("busy.saving"));
      try {
        await portal("PUT", `/portal/subscriptions/${encodeURIComponent(sub.subscription_id)}/payment-method`, {
          body: { payment_method_id: select.value },
        });
        app.flash = { kind: "success", text: t("subscription.done.payment_method") };
        show(() => subscriptionView(sub.subscription_id));
      } catch (error) {
        done();
        if (error instanceof SessionEnded) return;
        fill(problems, notice("error", explain(error)));
      }
    }),
  );
  section.append(form);
  return section;
}

// ------------------------------------------------------------------------------ invoices

async function invoicesView() {
  const { items } = await portal("GET", "/portal/invoices");
  return [h("h1", {}, t("invoices.title")), items.length ? invoiceTable(t("invoices.title"), items) : h("p", {}, t("invoices.none"))];
}

async function invoiceView(id) {
  const invoice = await portal("GET", `/portal/invoices/${encodeURIComponent(id)}`);
  const at = (amount) => money(amount, invoice.currency, locale());
  const totals = [
    [t("invoice.subtotal"), at(invoice.subtotal)],
    invoice.discount_amount ? [t("invoice.discount"), at(-invoice.discount_amount)] : null,
    [t("invoice.vat", { percent: new Intl.NumberFormat(locale()).format(invoice.vat_percent) }), at(invoice.vat_amount)],
    [t("invoice.total"), at(invoice.amount)],
  ].filter(Boolean);
  return [
    h("p", { class: "breadcrumb" }, h("a", { href: "#/invoices" }, t("invoices.back"))),
    h("h1", {}, t("invoice.title", { handle: invoice.handle })),
    facts([
      [t("invoice.status"), badge("invoice", invoice.state)],
      [t("invoice.date"), date(invoice.created_at, locale())],
      [t("invoice.period"), t("invoice.period_range", { start: date(invoice.period_start, locale()), end: date(invoice.period_end, locale()) })],
      [t("invoice.amount"), at(invoice.amount)],
      [t("invoice.subscription"), h("a", { href: `#/subscriptions/${encodeURIComponent(invoice.subscription_id)}` }, t("invoice.subscription_link"))],
    ]),
    h(
      "section",
      { class: "panel" },
      h("h2", { id: "invoice-lines" }, t("invoice.lines")),
      table(
        t("invoice.lines"),
        [t("invoice.line"), t("invoice.line_amount")],
        invoice.lines.map((line) => [
          [
            h("span", { class: "line-title" }, line.description),
            h("span", { class: "line-detail" }, t("invoice.quantity_times", { quantity: line.quantity, unit: at(line.unit_amount) })),
          ],
          at(line.amount),
        ]),
        { numeric: [1] },
      ),
      facts(totals),
    ),
    h(
      "section",
      { class: "panel" },
      h("h2", { id: "invoice-transactions" }, t("invoice.transactions")),
      invoice.transactions.length
        ? table(
            t("invoice.transactions"),
            [t("transaction.date"), t("transaction.amount"), t("transaction.status")],
            invoice.transactions.map((txn) => [date(txn.created_at, locale()), at(txn.amount), badge("transaction", txn.state)]),
            { numeric: [1], dates: [0] },
          )
        : h("p", {}, t("invoice.no_transactions")),
    ),
  ];
}

// ------------------------------------------------------------------------------ payment methods

function expiry(method) {
  return t("pm.expires", { month: String(method.exp_month).padStart(2, "0"), year: method.exp_year });
}

async function paymentMethodsView() {
  const { items } = await portal("GET", "/portal/payment-methods");
  const problems = h("div", { class: "form-problems" });
  const list = items.length
    ? h(
        "ul",
        { class: "cards" },
        items.map((method) => {
          const remove = h("button", { type: "button", class: "btn btn-danger-outline", "aria-label": t("pm.remove_label", { card: card(method) }) }, t("pm.remove"));
          remove.addEventListener(
            "click",
            guard(async () => {
              fill(problems);
              const done = busy(remove, t("busy.working"));
              try {
                await portal("DELETE", `/portal/payment-methods/${encodeURIComponent(method.payment_method_id)}`);
                app.flash = { kind: "success", text: t("pm.removed", { card: card(method) }) };
                show(paymentMethodsView);
              } catch (error) {
                done();
                if (error instanceof SessionEnded) return;
                fill(problems, notice("error", explain(error)));
                focusOn(problems.firstChild);
              }
            }),
          );
          return h(
            "li",
            { class: "card" },
            h("h2", {}, card(method)),
            facts([[t("pm.expiry"), expiry(method)], method.default ? [t("pm.default"), t("pm.default_yes")] : null]),
            h("div", { class: "actions" }, remove),
          );
        }),
      )
    : h("p", {}, t("pm.none"));
  return [h("h1", {}, t("pm.title")), problems, list, addPaymentMethodForm()];
}

const BRANDS = ["visa", "mastercard", "amex", "discover", "diners", "jcb", "unionpay"];

function addPaymentMethodForm() {
  const token = h("input", { type: "text", autocomplete: "off", spellcheck: "false", autocapitalize: "none", required: true });
  const brand = h("select", { required: true }, BRANDS.map((b) => h("option", { value: b }, brandName(b))));
  const last4 = h("input", { type: "text", inputmode: "numeric", maxlength: "4", pattern: "[0-9]{4}", autocomplete: "off", required: true });
  const thisYear = new Date().getFullYear();
  const month = h("select", { required: true }, Array.from({ length: 12 }, (_, i) => h("option", { value: String(i + 1) }, String(i + 1).padStart(2, "0"))));
  const year = h("select", { required: true }, Array.from({ length: 16 }, (_, i) => h("option", { value: String(thisYear + i) }, String(thisYear + i))));
  const fields = {
    "card.token": field({ label: t("pm.token"), control: token, name: "token", hint: t("pm.token_hint") }),
    "card.brand": field({ label: t("pm.brand"), control: brand, name: "brand" }),
    "card.last4": field({ label: t("pm.last4"), control: last4, name: "last4" }),
    "card.exp_month": field({ label: t("pm.exp_month"), control: month, name: "exp_month" }),
    "card.exp_year": field({ label: t("pm.exp_year"), control: year, name: "exp_year" }),
  };
  // The test gateway's tokens name brand and last digits (tok_visa_4242): fill them in.
  token.addEventListener("input", () => {
    const found = /^tok_([a-z]+)_(?:[a-z_]*_)?(\d{4})$/i.exec(token.value.trim());
    if (found) {
      if (BRANDS.includes(found[1].toLowerCase())) brand.value = found[1].toLowerCase();
      last4.value = found[2];
    }
  });
  const problems = h("div", { class: "form-problems" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("pm.add"));
  const form = h(
    "form",
    { class: "stack", novalidate: true, "aria-labelledby": "pm-add-title" },
    h("p", {}, t("pm.gateway_note")),
    fields["card.token"],
    fields["card.brand"],
    fields["card.last4"],
    h("div", { class: "row" }, fields["card.exp_month"], fields["card.exp_year"]),
    problems,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      Object.values(fields).forEach((f) => f.setError(null));
      fill(problems);
      if (!token.value.trim()) {
        fields["card.token"].setError(t("field.required"));
        token.focus();
        return;
      }
      if (!/^[0-9]{4}$/.test(last4.value.trim())) {
        fields["card.last4"].setError(t("pm.last4_invalid"));
        last4.focus();
        return;
      }
      const done = busy(submit, t("busy.saving"));
      try {
        const card = {
          token: token.value.trim(),
          brand: brand.value,
          last4: last4.value.trim(),
          exp_month: Number(month.value),
          exp_year: Number(year.value),
        };
        const added = await portal("POST", "/portal/payment-methods", { body: { card }, idempotency: idempotencyKey() });
        app.flash = { kind: "success", text: t("pm.added", { card: t("pm.card", { brand: brandName(added.brand), last4: added.last4 }) }) };
        show(paymentMethodsView);
      } catch (error) {
        done();
        if (error instanceof SessionEnded) return;
        if (error.code === "raw_card_data_rejected") {
          fields["card.token"].setError(explain(error));
          token.focus();
          return;
        }
        const first = error.code === "validation_error" ? fieldErrors(error, fields) : null;
        fill(problems, notice("error", explain(error)));
        if (first) first.focus();
      }
    }),
  );
  return h("section", { class: "panel", "aria-labelledby": "pm-add-title" }, h("h2", { id: "pm-add-title" }, t("pm.add_title")), form);
}

// ------------------------------------------------------------------------------ details

async function detailsView() {
  const me = await portal("GET", "/portal/me");
  return [h("h1", {}, t("details.title")), detailsForm(me), phoneVerifier(me, () => show(detailsView))];
}

function detailsForm(me) {
  const address = me.address || {};
  const input = (value, attrs = {}) => h("input", { type: "text", value: value || "", ...attrs });
  const controls = {
    name: input(me.name, { autocomplete: "name" }),
    email: input(me.email, { type: "email", autocomplete: "email", required: true, spellcheck: "false" }),
    company: input(me.company, { autocomplete: "organization" }),
    vat_id: input(me.vat_id, { autocomplete: "off" }),
    "address.line1": input(address.line1, { autocomplete: "address-line1" }),
    "address.line2": input(address.line2, { autocomplete: "address-line2" }),
    "address.postal_code": input(address.postal_code, { autocomplete: "postal-code" }),
    "address.city": input(address.city, { autocomplete: "address-level2" }),
    "address.country": input(address.country, { autocomplete: "country", maxlength: "2", spellcheck: "false" }),
    language: h(
      "select",
      {},
      app.config.languages.map((code) => {
        const option = h("option", { value: code, lang: code }, t(`language.${code}`));
        option.selected = code === (me.language || app.config.default_language);
        return option;
      }),
    ),
  };
  const labels = {
    name: t("details.name"),
    email: t("details.email"),
    company: t("details.company"),
    vat_id: t("details.vat_id"),
    "address.line1": t("details.line1"),
    "address.line2": t("details.line2"),
    "address.postal_code": t("details.postal_code"),
    "address.city": t("details.city"),
    "address.country": t("details.country"),
    language: t("details.language"),
  };
  const hints = { "address.country": t("details.country_hint"), language: t("details.language_hint") };
  const fields = Object.fromEntries(
    Object.entries(controls).map(([key, control]) => [key, field({ label: labels[key], control, name: key, hint: hints[key] || null })]),
  );
  const problems = h("div", { class: "form-problems" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("details.save"));
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    h(
      "fieldset",
      {},
      h("legend", {}, t("details.contact")),
      fields.name,
      fields.email,
      fields.company,
      fields.vat_id,
      fields.language,
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, t("details.address")),
      fields["address.line1"],
      fields["address.line2"],
      h("div", { class: "row" }, fields["address.postal_code"], fields["address.city"]),
      fields["address.country"],
    ),
    problems,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      Object.values(fields).forEach((f) => f.setError(null));
      fill(problems);
      const value = (key) => controls[key].value.trim();
      if (!value("email") || !controls.email.checkValidity()) {
        fields.email.setError(t("login.email_invalid"));
        controls.email.focus();
        return;
      }
      const changes = {};
      for (const key of ["name", "email", "company", "vat_id", "language"]) {
        const before = me[key] || "";
        if (value(key) !== before) changes[key] = value(key) || null;
      }
      const newAddress = {};
      let addressChanged = false;
      for (const key of ["line1", "line2", "postal_code", "city", "country"]) {
        let text = value(`address.${key}`);
        if (key === "country") text = text.toUpperCase();
        newAddress[key] = text || null;
        if ((address[key] || "") !== text) addressChanged = true;
      }
      if (addressChanged) changes.address = newAddress;
      if (!Object.keys(changes).length) {
        fill(problems, notice("info", t("details.unchanged")));
        return;
      }
      const done = busy(submit, t("busy.saving"));
      try {
        await portal("PATCH", "/portal/me", { body: changes });
        app.flash = { kind: "success", text: t("details.saved") };
        show(detailsView);
      } catch (error) {
        done();
        if (error instanceof SessionEnded) return;
        const first = error.code === "validation_error" ? fieldErrors(error, fields) : null;
        fill(problems, notice("error", explain(error)));
        if (first) first.focus();
      }
    }),
  );
  return form;
}

/** Verify a mobile phone number by SMS code (needed to order some plans). */
function phoneVerifier(me, onVerified) {
  const section = h("section", { class: "panel", "aria-labelledby": "phone-title", id: "phone" }, h("h2", { id: "phone-title" }, t("phone.title")));
  const status = me.phone
    ? h("p", {}, t(me.phone_verified ? "phone.current_verified" : "phone.current_unverified", { number: me.phone }))
    : h("p", {}, t("phone.none"));
  const body = h("div", {});
  section.append(status, body);

  const numberStep = (message = null) => {
    const input = h("input", { type: "tel", autocomplete: "tel", inputmode: "tel", required: true, value: me.phone_verified ? "" : me.phone || "" });
    const number = field({ label: t("phone.number"), control: input, name: "number", hint: t("phone.number_hint") });
    const problems = h("div", { class: "form-problems" }, message);
    const send = h("button", { type: "submit", class: "btn btn-secondary" }, t("phone.send"));
    const form = h("form", { class: "stack", novalidate: true }, number, problems, h("div", { class: "actions" }, send));
    form.addEventListener(
      "submit",
      guard(async (event) => {
        event.preventDefault();
        number.setError(null);
        fill(problems);
        if (!input.value.trim()) {
          number.setError(t("field.required"));
          input.focus();
          return;
        }
        const done = busy(send, t("busy.sending"));
        try {
          const sent = await portal("PUT", "/portal/me/phone", { body: { number: input.value.trim() } });
          codeStep(sent.number, notice("success", t("phone.sent", { number: sent.number })));
        } catch (error) {
          done();
          if (error instanceof SessionEnded) return;
          if (error.code === "resend_too_soon") {
            codeStep(input.value.trim(), notice("info", explain(error)));
            return;
          }
          if (["phone_not_allowed", "validation_error"].includes(error.code)) {
            number.setError(error.code === "validation_error" ? t("phone.number_invalid") : explain(error));
            input.focus();
            return;
          }
          fill(problems, notice("error", explain(error)));
        }
      }),
    );
    fill(body, form);
    return input;
  };

  const codeStep = (phoneNumber, message) => {
    const input = h("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6", pattern: "[0-9]{6}", required: true });
    const code = field({ label: t("phone.code"), control: input, name: "phone-code", hint: t("phone.code_hint", { number: phoneNumber }) });
    const problems = h("div", { class: "form-problems" });
    const verify = h("button", { type: "submit", class: "btn btn-primary" }, t("phone.verify"));
    const change = h("button", { type: "button", class: "btn btn-quiet" }, t("phone.change"));
    change.addEventListener("click", () => numberStep().focus());
    const form = h(
      "form",
      { class: "stack", novalidate: true },
      message,
      code,
      problems,
      h("div", { class: "actions" }, verify, change),
    );
    form.addEventListener(
      "submit",
      guard(async (event) => {
        event.preventDefault();
        code.setError(null);
        const value = input.value.replace(/\s+/g, "");
        if (!/^[0-9]{6}$/.test(value)) {
          code.setError(t("login.code_invalid_format"));
          input.focus();
          return;
        }
        const done = busy(verify, t("busy.checking"));
        try {
          await portal("POST", "/portal/me/phone/verify", { body: { code: value } });
          app.flash = { kind: "success", text: t("phone.verified") };
          onVerified();
        } catch (error) {
          done();
          if (error instanceof SessionEnded) return;
          code.setError(explain(error));
          input.focus();
        }
      }),
    );
    fill(body, form);
    input.focus();
  };

  if (me.phone && me.phone_verified) {
    const change = h("button", { type: "button", class: "btn btn-quiet" }, t("phone.change"));
    change.addEventListener("click", () => numberStep().focus());
    fill(body, h("div", { class: "actions" }, change));
  } else {
    numberStep();
  }
  return section;
}

// ------------------------------------------------------------------------------ order

async function orderView() {
  const heading = h("h1", {}, t("order.title"));
  if (!app.config.features.order) return [heading, h("p", {}, t("order.unavailable", context()))];
  const [plans, methods] = await Promise.all([portal("GET", "/portal/plans"), portal("GET", "/portal/payment-methods")]);
  if (!plans.items.length) return [heading, h("p", {}, t("order.no_plans"))];
  const name = "plan";
  const radios = plans.items.map((plan, index) => {
    const input = h("input", { type: "radio", name, value: plan.plan_id, id: `plan-${plan.plan_id}`, required: true });
    input.checked = index === 0;
    return h("div", { class: "choice" }, input, h("label", { for: input.id }, h("span", { class: "choice-title" }, plan.name), " ", h("span", { class: "muted" }, price(plan))));
  });
  const planSet = h("fieldset", {}, h("legend", {}, t("order.plan")), radios);
  if (!methods.items.length) {
    return [heading, planSet, notice("info", t("order.needs_payment_method")), h("p", {}, h("a", { href: "#/payment-methods" }, t("pm.add_link")))];
  }
  const select = h(
    "select",
    { required: true },
    methods.items.map((method) => {
      const option = h("option", { value: method.payment_method_id }, card(method));
      option.selected = method.default;
      return option;
    }),
  );
  const pm = field({ label: t("order.payment_method"), control: select, name: "payment_method_id" });
  const problems = h("div", { class: "form-problems" });
  const phoneSlot = h("div", { class: "follow" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("order.submit"));
  const form = h("form", { class: "stack", novalidate: true }, planSet, pm, problems, h("div", { class: "actions" }, submit));
  form.addEventListener(
    "submit",
    guard(async (event) => {
      event.preventDefault();
      fill(problems);
      const chosen = form.querySelector(`input[name="${name}"]:checked`);
      const done = busy(submit, t("busy.ordering"));
      try {
        const created = await portal("POST", "/portal/subscriptions", {
          body: { plan_id: chosen.value, payment_method_id: select.value },
          idempotency: idempotencyKey(),
        });
        app.flash = { kind: "success", text: t("order.done") };
        go(`#/subscriptions/${encodeURIComponent(created.subscription_id)}`);
      } catch (error) {
        done();
        if (error instanceof SessionEnded) return;
        fill(problems, notice("error", explain(error)));
        if (error.code === "phone_verification_required") {
          const me = await portal("GET", "/portal/me");
          fill(phoneSlot, 
            phoneVerifier(me, () => {
              fill(phoneSlot);
              fill(problems, notice("success", t("order.phone_ready")));
              announce(t("order.phone_ready"));
              app.flash = null;
              submit.focus();
            }),
          );
          const phoneInput = phoneSlot.querySelector("input");
          if (phoneInput) phoneInput.focus();
        } else {
          focusOn(problems.firstChild);
        }
      }
    }),
  );
  return [heading, form, phoneSlot];
}

function notFoundView() {
  return [h("h1", {}, t("notfound.title")), h("p", {}, h("a", { href: "#/subscriptions" }, t("subscriptions.back")))];
}

// ------------------------------------------------------------------------------ start

async function boot() {
  try {
    setCurrencies(JSON.parse(document.getElementById("portico-currencies").textContent));
  } catch {
    setCurrencies({});
  }
  const linkToken = takeToken();
  setLanguage(chooseLanguage(["en", "de"], "en"));
  try {
    app.config = await request("GET", `/portal/${encodeURIComponent(ACCOUNT)}/config`);
  } catch (error) {
    applyAccent(null);
    document.getElementById("brand-tools").append(languageSwitcher(["en", "de"]));
    const render = () => {
      const title = error.status === 404 ? t("portal.missing_title") : t("error.title");
      fill(main, h("h1", {}, title), h("p", {}, error.status === 404 ? t("portal.missing") : explain(error)));
      document.title = title;
    };
    onLanguageChange(render);
    render();
    return;
  }
  applyAccent(app.config.accent_color);
  setLanguage(chooseLanguage(app.config.languages, app.config.default_language));
  document.getElementById("brand-tools").append(languageSwitcher(app.config.languages));
  onLanguageChange(() => route({ focus: false }));
  app.session = loadSession();
  if (linkToken) await exchangeLink(linkToken);
  window.addEventListener("hashchange", () => route());
  route({ focus: Boolean(linkToken) || Boolean(window.location.hash) });
}

boot();
