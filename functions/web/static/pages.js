// The pages behind the links in Portico's emails: /verify-email, /reset-password,
// /accept-invitation and /confirm-email. Each reads ?token= once (and takes it out of the address
// bar and the history at once), then calls the API route of its flow.

import { idempotencyKey, request, takeToken } from "./api.js";
import { applyAccent } from "./color.js";
import { busy, field, fill, focusOn, h, notice } from "./dom.js";
import { dateTime } from "./format.js";
import { chooseLanguage, errorText, languageSwitcher, locale, onLanguageChange, setLanguage, t } from "./i18n.js";

const page = document.body.dataset.page;
const main = document.getElementById("main");
const token = takeToken();

let state = {};
let view = () => [];

/** Draw the page from its state; focus its heading or notice when something happened. */
function update(changes = {}, { focus = true } = {}) {
  state = { ...state, ...changes };
  const content = view();
  fill(main, ...content.flat().filter(Boolean));
  const heading = main.querySelector("h1");
  document.title = `${heading ? heading.textContent : ""} – Portico`;
  if (!focus) return;
  focusOn(main.querySelector("[data-autofocus]") || main.querySelector(".notice") || heading);
}

function passwordProblem(error) {
  if (error.code !== "weak_password") return notice("error", errorText(error));
  const reasons = (error.problem && error.problem.reasons) || [];
  return notice(
    "error",
    h("p", {}, t("error.weak_password")),
    h("ul", {}, reasons.map((reason) => h("li", {}, t(`reason.${reason}`)))),
  );
}

function passwordPair(label = t("page.reset.new")) {
  const first = h("input", { type: "password", autocomplete: "new-password", required: true });
  const second = h("input", { type: "password", autocomplete: "new-password", required: true });
  const a = field({ label, control: first, name: "new_password", hint: t("page.reset.rules") });
  const b = field({ label: t("page.reset.repeat"), control: second, name: "repeat_password" });
  return {
    fields: [a, b],
    value: () => first.value,
    check() {
      a.setError(null);
      b.setError(null);
      if (!first.value) {
        a.setError(t("field.required"));
        first.focus();
        return false;
      }
      if (first.value !== second.value) {
        b.setError(t("page.reset.mismatch"));
        second.focus();
        return false;
      }
      return true;
    },
    focus: () => first.focus(),
  };
}

function emailInput() {
  return h("input", { type: "email", autocomplete: "email", required: true, spellcheck: "false", autocapitalize: "none" });
}

// ------------------------------------------------------------------------------ /verify-email

function verifyEmail() {
  view = () => {
    const out = [h("h1", {}, t("page.verify.title"))];
    if (state.status === "working") out.push(h("p", { class: "loading" }, t("page.verify.working")));
    if (state.status === "done") out.push(notice("success", t("page.verify.done")));
    if (state.status === "missing") out.push(notice("info", t("page.missing_token")));
    if (state.status === "invalid") out.push(notice("error", t("page.verify.invalid")));
    if (state.status === "error") out.push(notice("error", errorText(state.error)));
    if (["missing", "invalid", "error"].includes(state.status)) out.push(resendForm());
    return out;
  };
  if (!token) return update({ status: "missing" }, { focus: false });
  update({ status: "working" }, { focus: false });
  request("POST", "/auth/verify-email", { body: { token } }).then(
    () => update({ status: "done" }),
    (error) => update({ status: error.code === "invalid_token" ? "invalid" : "error", error }),
  );
}

function resendForm() {
  const input = emailInput();
  const email = field({ label: t("page.email"), control: input, name: "email" });
  const problems = h("div", { class: "form-problems" }, state.resent ? notice("success", t("page.verify.resent")) : null);
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("page.verify.resend"));
  const form = h("form", { class: "stack", novalidate: true }, email, problems, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    email.setError(null);
    fill(problems);
    if (!input.value.trim() || !input.checkValidity()) {
      email.setError(t("field.email"));
      input.focus();
      return;
    }
    const done = busy(submit, t("busy.sending"));
    try {
      await request("POST", "/auth/verify-email/resend", { body: { email: input.value.trim() } });
      fill(problems, notice("success", t("page.verify.resent")));
    } catch (error) {
      fill(problems, notice("error", errorText(error)));
    }
    done();
  });
  return h("section", { class: "panel", "aria-labelledby": "resend-title" }, h("h2", { id: "resend-title" }, t("page.verify.resend_title")), form);
}

// ------------------------------------------------------------------------------ /reset-password

function resetPassword() {
  view = () => {
    const out = [h("h1", {}, t("page.reset.title"))];
    if (state.status === "done") return [...out, notice("success", t("page.reset.done"))];
    if (state.status === "invalid") out.push(notice("error", t("page.reset.invalid")));
    if (token && state.status === "form") out.push(tokenResetForm());
    if (!token) out.push(h("p", {}, t("page.reset.sms_intro")), smsResetForm());
    if (!token || state.status === "invalid") out.push(requestResetForm());
    return out;
  };
  update({ status: "form" }, { focus: false });
}

function tokenResetForm() {
  const pair = passwordPair();
  const problems = h("div", { class: "form-problems" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("page.reset.submit"));
  const form = h("form", { class: "stack", novalidate: true }, pair.fields, problems, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(problems);
    if (!pair.check()) return;
    const done = busy(submit, t("busy.saving"));
    try {
      await request("POST", "/auth/password/reset", { body: { token, new_password: pair.value() } });
      update({ status: "done" });
    } catch (error) {
      done();
      if (error.code === "invalid_token") return update({ status: "invalid" });
      fill(problems, passwordProblem(error));
      pair.focus();
    }
  });
  return form;
}

function smsResetForm() {
  const emailControl = emailInput();
  const email = field({ label: t("page.email"), control: emailControl, name: "email" });
  const codeControl = h("input", { type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6", pattern: "[0-9]{6}", required: true });
  const code = field({ label: t("page.reset.code"), control: codeControl, name: "code" });
  const pair = passwordPair();
  const problems = h("div", { class: "form-problems" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("page.reset.submit"));
  const form = h("form", { class: "stack", novalidate: true }, email, code, pair.fields, problems, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(problems);
    email.setError(null);
    code.setError(null);
    if (!emailControl.value.trim() || !emailControl.checkValidity()) {
      email.setError(t("field.email"));
      emailControl.focus();
      return;
    }
    if (!/^[0-9]{6}$/.test(codeControl.value.trim())) {
      code.setError(t("login.code_invalid_format"));
      codeControl.focus();
      return;
    }
    if (!pair.check()) return;
    const done = busy(submit, t("busy.saving"));
    try {
      await request("POST", "/auth/password/reset", {
        body: { email: emailControl.value.trim(), code: codeControl.value.trim(), new_password: pair.value() },
      });
      update({ status: "done" });
    } catch (error) {
      done();
      if (["invalid_code", "code_expired", "code_exhausted"].includes(error.code)) {
        code.setError(errorText(error));
        codeControl.focus();
        return;
      }
      fill(problems, passwordProblem(error));
    }
  });
  return form;
}

function requestResetForm() {
  const input = emailInput();
  const email = field({ label: t("page.email"), control: input, name: "email" });
  const radio = (value, label, checked) => {
    const control = h("input", { type: "radio", name: "channel", value, id: `channel-${value}` });
    control.checked = checked;
    return h("div", { class: "choice" }, control, h("label", { for: control.id }, label));
  };
  const channel = h(
    "fieldset",
    {},
    h("legend", {}, t("page.reset.channel")),
    radio("email", t("page.reset.channel_email"), true),
    radio("sms", t("page.reset.channel_sms"), false),
  );
  const problems = h("div", { class: "form-problems" });
  const submit = h("button", { type: "submit", class: "btn btn-secondary" }, t("page.reset.request"));
  const form = h("form", { class: "stack", novalidate: true }, email, channel, problems, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    email.setError(null);
    fill(problems);
    if (!input.value.trim() || !input.checkValidity()) {
      email.setError(t("field.email"));
      input.focus();
      return;
    }
    const done = busy(submit, t("busy.sending"));
    try {
      const chosen = form.querySelector("input[name=channel]:checked").value;
      await request("POST", "/auth/password/forgot", { body: { email: input.value.trim(), channel: chosen } });
      fill(problems, notice("success", t("page.reset.requested")));
    } catch (error) {
      fill(problems, notice("error", errorText(error)));
    }
    done();
  });
  return h("section", { class: "panel", "aria-labelledby": "request-title" }, h("h2", { id: "request-title" }, t("page.reset.request_title")), form);
}

// ------------------------------------------------------------------------------ /accept-invitation

function acceptInvitation() {
  view = () => {
    const out = [h("h1", {}, t("page.invite.title"))];
    if (state.status === "loading") out.push(h("p", { class: "loading" }, t("loading")));
    if (state.status === "missing") out.push(notice("info", t("page.missing_token")));
    if (state.status === "invalid") out.push(notice("error", t("page.invite.invalid")));
    if (state.status === "error") out.push(notice("error", errorText(state.error)));
    const invitation = state.invitation;
    if (state.status === "done") {
      out.push(notice("success", t("page.invite.done", { account: invitation.account_name, email: invitation.email })));
    }
    if (state.status === "form") out.push(invitationForm(invitation));
    return out;
  };
  if (!token) return update({ status: "missing" }, { focus: false });
  update({ status: "loading" }, { focus: false });
  request("GET", `/invitations/${encodeURIComponent(token)}`).then(
    (invitation) => update({ status: "form", invitation }, { focus: false }),
    (error) => update({ status: error.status === 404 ? "invalid" : "error", error }),
  );
}

function invitationForm(invitation) {
  const intro = [
    h("p", {}, t("page.invite.intro", { account: invitation.account_name, email: invitation.email })),
    h("p", { class: "muted" }, t("page.invite.expires", { date: dateTime(invitation.expires_at, locale()) })),
    h("p", {}, t(invitation.has_login ? "page.invite.existing" : "page.invite.new")),
  ];
  const problems = h("div", { class: "form-problems" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, t("page.invite.submit", { account: invitation.account_name }));
  let nameControl = null;
  let pair = null;
  let current = null;
  const parts = [];
  if (invitation.has_login) {
    current = h("input", { type: "password", autocomplete: "current-password", required: true });
    parts.push(field({ label: t("page.invite.password"), control: current, name: "password" }));
  } else {
    nameControl = h("input", { type: "text", autocomplete: "name", required: true, maxlength: "200" });
    parts.push(field({ label: t("page.invite.name"), control: nameControl, name: "name" }));
    pair = passwordPair(t("page.invite.new_password"));
    parts.push(...pair.fields);
  }
  const form = h("form", { class: "stack", novalidate: true }, intro, parts, problems, h("div", { class: "actions" }, submit));
  // hidden username for password managers: the login this password belongs to
  form.prepend(h("input", { type: "email", autocomplete: "username", value: invitation.email, hidden: true, "aria-hidden": "true", tabindex: "-1" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    fill(problems);
    const body = {};
    if (invitation.has_login) {
      if (!current.value) {
        parts[0].setError(t("field.required"));
        current.focus();
        return;
      }
      parts[0].setError(null);
      body.password = current.value;
    } else {
      parts[0].setError(null);
      if (!nameControl.value.trim()) {
        parts[0].setError(t("field.required"));
        nameControl.focus();
        return;
      }
      if (!pair.check()) return;
      body.name = nameControl.value.trim();
      body.password = pair.value();
    }
    const done = busy(submit, t("busy.working"));
    try {
      await request("POST", `/invitations/${encodeURIComponent(token)}/accept`, { body, idempotency: idempotencyKey() });
      update({ status: "done" });
    } catch (error) {
      done();
      if (error.status === 404) return update({ status: "invalid" });
      fill(problems, passwordProblem(error));
      (current || nameControl).focus();
    }
  });
  return form;
}

// ------------------------------------------------------------------------------ /confirm-email

function confirmEmail() {
  view = () => {
    const out = [h("h1", {}, t("page.confirm.title"))];
    const messages = {
      working: () => h("p", { class: "loading" }, t("page.confirm.working")),
      done: () => notice("success", t("page.confirm.done")),
      missing: () => notice("info", t("page.missing_token")),
      invalid: () => notice("error", t("page.confirm.invalid")),
      unavailable: () => notice("info", t("page.confirm.unavailable")),
      login: () => notice("info", t("page.confirm.login")),
      error: () => notice("error", errorText(state.error)),
    };
    out.push(messages[state.status]());
    return out;
  };
  if (!token) return update({ status: "missing" }, { focus: false });
  update({ status: "working" }, { focus: false });
  request("POST", "/me/email/confirm", { body: { token } }).then(
    () => update({ status: "done" }),
    (error) => {
      const status = { 400: "invalid", 401: "login", 404: "unavailable" }[error.status];
      update({ status: error.code === "invalid_token" ? "invalid" : status || "error", error });
    },
  );
}

// ------------------------------------------------------------------------------ start

const PAGES = {
  "verify-email": verifyEmail,
  "reset-password": resetPassword,
  "accept-invitation": acceptInvitation,
  "confirm-email": confirmEmail,
};

applyAccent(null);
setLanguage(chooseLanguage(["en", "de"], "en"));
document.getElementById("brand-tools").append(languageSwitcher(["en", "de"]));
onLanguageChange(() => update({}, { focus: false }));
(PAGES[page] || verifyEmail)();
