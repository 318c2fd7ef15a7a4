// Texts in English and German, the language choice and the error messages.
//
// The language is the reader's explicit choice (kept in localStorage: a preference, no secret),
// else the first of the browser's languages the page speaks, else the merchant's default.
// Every error code the API may answer has its own message; an unknown one says so with its code.

import { h, uid } from "./dom.js";

const EN = {
  loading: "Loading…",
  "language.label": "Language",
  "language.en": "English",
  "language.de": "Deutsch",
  "busy.sending": "Sending…",
  "busy.checking": "Checking…",
  "busy.working": "One moment…",
  "busy.saving": "Saving…",
  "busy.ordering": "Ordering…",
  "field.required": "This field is required.",
  "field.invalid": "This value is not valid.",
  "field.too_long": "This is too long.",
  "field.format": "This does not have the expected format.",
  "field.email": "Enter a valid email address, like name@example.com.",

  "brand.logo": "{company} logo",
  "brand.terms": "Terms and conditions",
  "nav.label": "Portal sections",
  "nav.subscriptions": "My subscriptions",
  "nav.invoices": "My invoices",
  "nav.payment_methods": "My payment methods",
  "nav.details": "My details",
  "nav.order": "Order a plan",
  "nav.logout": "Log out",

  "portal.missing_title": "Portal not found",
  "portal.missing": "There is no customer portal at this address. Check the link you were given.",
  "notfound.title": "Page not found",

  "login.title": "Log in to your customer portal",
  "login.intro": "Enter the email address you use with {company}. We will send you a one-time code.",
  "login.email": "Email address",
  "login.email_invalid": "Enter a valid email address, like name@example.com.",
  "login.send_code": "Send code",
  "login.code_title": "Enter your code",
  "login.code_sent": "We sent a 6-digit code to {email}. It is valid for 10 minutes.",
  "login.code_resent": "We sent a new code to {email}. Only the newest code works.",
  "login.code": "6-digit code",
  "login.code_hint": "From the email we sent to {email}.",
  "login.code_invalid_format": "Enter the 6 digits of the code.",
  "login.submit": "Log in",
  "login.resend": "Send a new code",
  "login.resend_in": "Send a new code in {seconds} s",
  "login.other_email": "Use another email address",
  "login.welcome": "Welcome, {name}.",
  "login.logged_out": "You are logged out.",
  "login.session_ended": "Your session has ended. Please log in again.",

  "subscriptions.title": "My subscriptions",
  "subscriptions.none": "You have no subscriptions.",
  "subscriptions.manage": "Manage {plan}",
  "subscriptions.back": "Back to my subscriptions",
  "subscription.state.trialing": "Trial",
  "subscription.state.active": "Active",
  "subscription.state.paused": "Paused",
  "subscription.state.cancelled": "Cancelled",
  "subscription.state.expired": "Ended",
  "subscription.status": "Status",
  "subscription.price": "Price",
  "subscription.trial_end": "Trial ends on",
  "subscription.renews": "Renews on",
  "subscription.paused_at": "Paused since",
  "subscription.resume_at": "Resumes on",
  "subscription.ends_at": "Ends on",
  "subscription.ended": "Ended on",
  "subscription.payment_method": "Payment method",
  "subscription.no_payment_method": "None",
  "subscription.payment_failed": "The last payment failed. Please check the payment method of this subscription.",
  "subscription.manage": "Manage this subscription",
  "subscription.invoices": "Invoices of this subscription",
  "subscription.pause": "Pause subscription",
  "subscription.pause_explain": "While paused, you are not charged. You can resume at any time.",
  "subscription.pause_until": "Resume automatically on (optional)",
  "subscription.pause_until_hint": "Leave empty to resume yourself later.",
  "subscription.pause_until_past": "Choose a date after today.",
  "subscription.pause_confirm": "Pause now",
  "subscription.keep_running": "Keep it running",
  "subscription.pause_unavailable": "Pausing is not offered here. Please contact {company}.",
  "subscription.resume": "Resume subscription",
  "subscription.cancel": "Cancel subscription",
  "subscription.cancel_reason": "Why are you cancelling?",
  "subscription.cancel_reason_choose": "Choose a reason",
  "subscription.cancel_reason_required": "Choose a reason.",
  "subscription.cancel_comment": "Anything else you want to tell us? (optional)",
  "subscription.cancel_period_end_explain": "Your subscription keeps running until the end of the current period ({date}) and is not renewed.",
  "subscription.cancel_now_explain": "Your subscription ends immediately.",
  "subscription.cancel_confirm": "Confirm cancellation",
  "subscription.keep": "Keep subscription",
  "subscription.cancel_unavailable": "Cancelling is not offered here. Please contact {company}.",
  "subscription.payment_method_choose": "Pay this subscription with",
  "subscription.payment_method_save": "Change payment method",
  "subscription.done.pause": "Your subscription is paused.",
  "subscription.done.resume": "Your subscription is running again.",
  "subscription.done.cancel": "Your subscription is cancelled.",
  "subscription.done.payment_method": "The payment method of this subscription is changed.",
  "interval.day": { one: "per day", other: "every {count} days" },
  "interval.month": { one: "per month", other: "every {count} months" },
  "interval.year": { one: "per year", other: "every {count} years" },

  "invoices.title": "My invoices",
  "invoices.none": "There are no invoices yet.",
  "invoices.back": "Back to my invoices",
  "invoice.title": "Invoice {handle}",
  "invoice.handle": "Invoice",
  "invoice.date": "Date",
  "invoice.amount": "Amount",
  "invoice.status": "Status",
  "invoice.state.paid": "Paid",
  "invoice.state.failed": "Payment failed",
  "invoice.state.pending": "Pending",
  "invoice.period": "Period",
  "invoice.period_range": "{start} – {end}",
  "invoice.subscription": "Subscription",
  "invoice.subscription_link": "Show subscription",
  "invoice.lines": "Items",
  "invoice.line": "Item",
  "invoice.quantity_times": "{quantity} × {unit}",
  "invoice.line_amount": "Amount",
  "invoice.subtotal": "Subtotal",
  "invoice.discount": "Discount",
  "invoice.vat": "VAT ({percent} %)",
  "invoice.total": "Total",
  "invoice.transactions": "Payments",
  "invoice.no_transactions": "No payments yet.",
  "transaction.date": "Date",
  "transaction.amount": "Amount",
  "transaction.status": "Result",
  "transaction.state.succeeded": "Succeeded",
  "transaction.state.declined": "Declined",

  "pm.title": "My payment methods",
  "pm.none": "You have no payment methods yet.",
  "pm.add_link": "Add a payment method",
  "pm.choose": "Choose a payment method",
  "pm.card": "{brand} ending in {last4}",
  "pm.expires": "{month}/{year}",
  "pm.expiry": "Expires",
  "pm.default": "Default",
  "pm.default_yes": "Used for new subscriptions",
  "pm.remove": "Remove",
  "pm.remove_label": "Remove {card}",
  "pm.removed": "{card} is removed.",
  "pm.add_title": "Add a payment method",
  "pm.gateway_note": "Test gateway: your payment provider's card form gives this page a token for the card; this page never asks for a card number. Try tok_visa_4242; a token containing \"fail\" is declined when it is charged.",
  "pm.token": "Card token",
  "pm.token_hint": "The token from the payment provider, for example tok_visa_4242.",
  "pm.brand": "Card brand",
  "pm.last4": "Last 4 digits of the card",
  "pm.last4_invalid": "Enter exactly 4 digits.",
  "pm.exp_month": "Expiry month",
  "pm.exp_year": "Expiry year",
  "pm.add": "Add payment method",
  "pm.added": "{card} is added.",
  "pm.brand.visa": "Visa",
  "pm.brand.mastercard": "Mastercard",
  "pm.brand.amex": "American Express",
  "pm.brand.discover": "Discover",
  "pm.brand.diners": "Diners Club",
  "pm.brand.jcb": "JCB",
  "pm.brand.unionpay": "UnionPay",

  "details.title": "My details",
  "details.contact": "Contact",
  "details.address": "Billing address",
  "details.name": "Name",
  "details.email": "Email address",
  "details.company": "Company (optional)",
  "details.vat_id": "VAT ID (optional)",
  "details.language": "Language of emails and invoices",
  "details.language_hint": "This page's language is chosen at the top.",
  "details.line1": "Street and number",
  "details.line2": "Address line 2 (optional)",
  "details.postal_code": "Postal code",
  "details.city": "City",
  "details.country": "Country code",
  "details.country_hint": "Two letters, for example DE or AT.",
  "details.save": "Save changes",
  "details.saved": "Your details are saved.",
  "details.unchanged": "Nothing was changed.",

  "phone.title": "Mobile phone",
  "phone.none": "No phone number yet.",
  "phone.current_verified": "{number} (verified)",
  "phone.current_unverified": "{number} (not verified yet)",
  "phone.number": "Mobile phone number",
  "phone.number_hint": "With country code, for example +49 151 23456789.",
  "phone.number_invalid": "Enter a mobile number with its country code, for example +49 151 23456789.",
  "phone.send": "Send code by SMS",
  "phone.sent": "We sent a 6-digit code by SMS to {number}.",
  "phone.code": "Code from the SMS",
  "phone.code_hint": "Sent to {number}.",
  "phone.verify": "Verify number",
  "phone.change": "Use another number",
  "phone.verified": "Your phone number is verified.",

  "order.title": "Order a plan",
  "order.link": "Order a plan",
  "order.unavailable": "Ordering is not offered here. Please contact {company}.",
  "order.no_plans": "There are no plans to order right now.",
  "order.plan": "Plan",
  "order.payment_method": "Pay with",
  "order.needs_payment_method": "Add a payment method first.",
  "order.submit": "Order now",
  "order.done": "Your new subscription has started.",
  "order.phone_ready": "Your phone number is verified. You can order now.",

  "error.title": "Something went wrong",
  "error.generic": "Something went wrong (code: {code}). Please try again.",
  "error.invalid_link": "This login link is invalid, used or expired. Log in with your email address instead.",
  "error.unknown_email": "No customer account here uses this email address. Check it for typos.",
  "error.resend_too_soon": "A code was sent less than a minute ago. Use that one, or ask for a new one in {seconds} s.",
  "error.invalid_code": "That code is not right. Check the code and try again.",
  "error.code_expired": "This code has expired. Ask for a new one.",
  "error.code_exhausted": "Too many wrong tries: this code no longer works. Ask for a new one.",
  "error.invalid_token": "This link is invalid, used or expired.",
  "error.feature_disabled": "This action is not offered here. Please contact {company}.",
  "error.invalid_state_transition": "That is not possible in the subscription's current state. The page now shows its latest state.",
  "error.payment_method_in_use": "This payment method still pays for a subscription. Choose another payment method for that subscription first.",
  "error.raw_card_data_rejected": "That looks like a card number. Never enter card numbers here: enter the token from your payment provider.",
  "error.phone_not_allowed": "This phone number cannot be used here. Use another number, or contact {company}.",
  "error.phone_verification_required": "This plan needs a verified mobile phone number. Verify your number below, then order again.",
  "error.payment_declined": "The payment was declined. Choose another payment method and try again.",
  "error.payment_method_required": "Choose a payment method.",
  "error.validation_error": "Some entries need your attention.",
  "error.not_found": "This item does not exist (any more).",
  "error.unauthenticated": "Your session has ended. Please log in again.",
  "error.too_many_requests": "Too many attempts. Please try again in {seconds} s.",
  "error.too_many_attempts": "Too many attempts. Please try again in {seconds} s.",
  "error.service_unavailable": "The service is unavailable right now. Please try again shortly.",
  "error.network_error": "The server cannot be reached. Check your connection and try again.",
  "error.conflict": "This was changed at the same time elsewhere. Reload the page and try again.",
  "error.request_in_progress": "This request is still being processed. Wait a moment, then reload the page.",
  "error.idempotency_key_reused": "This request was already sent. Reload the page to see its result.",
  "error.weak_password": "This password does not meet the password rules:",
  "error.invalid_credentials": "The password is not right.",
  "error.captcha_failed": "The captcha check failed. Please try again.",
  "error.email_taken": "This email address is already in use.",
  "error.malformed_json": "The request could not be read. Reload the page and try again.",
  "error.payload_too_large": "This is too much text. Shorten it and try again.",

  "reason.too_short": "It is too short.",
  "reason.too_long": "It is too long.",
  "reason.missing_lowercase": "Add a lowercase letter.",
  "reason.missing_uppercase": "Add an uppercase letter.",
  "reason.missing_digit": "Add a digit.",
  "reason.missing_special": "Add a special character, like ! or #.",
  "reason.contains_personal_info": "Do not use your name, email address or company.",
  "reason.dictionary_word": "Avoid dictionary words.",
  "reason.common_password": "This is a commonly used password.",
  "reason.sequence": "Avoid sequences like abc or 123.",
  "reason.repeated_characters": "Avoid repeated characters.",
  "reason.reused": "You used this password before; choose a new one.",

  "page.verify.title": "Verify your email address",
  "page.verify.working": "Verifying your email address…",
  "page.verify.done": "Your email address is verified. You can now log in to Portico.",
  "page.verify.invalid": "This verification link is invalid, used or expired (links are valid for 24 hours).",
  "page.verify.resend_title": "Get a new verification link",
  "page.verify.resend": "Send a new link",
  "page.verify.resent": "If this address is waiting for verification, a new link is on its way. Check your inbox.",
  "page.missing_token": "This page needs the link from your email. Open the link from the email again.",
  "page.email": "Email address",

  "page.reset.title": "Set a new password",
  "page.reset.new": "New password",
  "page.reset.repeat": "Repeat the new password",
  "page.reset.mismatch": "The two passwords are not the same.",
  "page.reset.rules": "Use at least 12 characters with lowercase and uppercase letters, a digit and a special character, and nothing easy to guess. Your account's rules may ask for more.",
  "page.reset.submit": "Set new password",
  "page.reset.done": "Your password is changed, and every session of your login has ended. Log in with your new password.",
  "page.reset.invalid": "This reset link is invalid, used or expired (links are valid for 30 minutes).",
  "page.reset.sms_intro": "Got a code by SMS? Enter your email address, the code and your new password.",
  "page.reset.code": "Code from the SMS",
  "page.reset.request_title": "Request a new reset link",
  "page.reset.channel": "Send it by",
  "page.reset.channel_email": "Email",
  "page.reset.channel_sms": "SMS to my verified phone",
  "page.reset.request": "Send",
  "page.reset.requested": "If this address has a login, we sent you a way to reset the password. Check your inbox or phone.",

  "page.invite.title": "Accept your invitation",
  "page.invite.intro": "You are invited to join {account} as {email}.",
  "page.invite.expires": "The invitation is valid until {date}.",
  "page.invite.existing": "This address already has a Portico login: enter its password to join.",
  "page.invite.new": "Choose your name and a password for your new login.",
  "page.invite.name": "Your name",
  "page.invite.password": "Password",
  "page.invite.new_password": "Choose a password",
  "page.invite.submit": "Join {account}",
  "page.invite.done": "You joined {account}. Log in with {email}.",
  "page.invite.invalid": "This invitation is invalid, used or expired. Ask the person who invited you to send a new one.",

  "page.confirm.title": "Confirm your new email address",
  "page.confirm.working": "Confirming your new email address…",
  "page.confirm.done": "Your new email address is confirmed. Use it the next time you log in.",
  "page.confirm.invalid": "This confirmation link is invalid, used or expired.",
  "page.confirm.unavailable": "Changing the email address is not available on this server yet, so this link cannot be confirmed here.",
  "page.confirm.login": "Log in to Portico in this browser first, then open the link again.",
};

const DE = {
  loading: "Wird geladen …",
  "language.label": "Sprache",
  "language.en": "English",
  "language.de": "Deutsch",
  "busy.sending": "Wird gesendet …",
  "busy.checking": "Wird geprüft …",
  "busy.working": "Einen Moment …",
  "busy.saving": "Wird gespeichert …",
  "busy.ordering": "Wird bestellt …",
  "field.required": "Dieses Feld ist ein Pflichtfeld.",
  "field.invalid": "Dieser Wert ist ungültig.",
  "field.too_long": "Das ist zu lang.",
  "field.format": "Das hat nicht das erwartete Format.",
  "field.email": "Geben Sie eine gültige E-Mail-Adresse ein, z. B. name@example.com.",

  "brand.logo": "Logo von {company}",
  "brand.terms": "Allgemeine Geschäftsbedingungen",
  "nav.label": "Bereiche des Portals",
  "nav.subscriptions": "Meine Abonnements",
  "nav.invoices": "Meine Rechnungen",
  "nav.payment_methods": "Meine Zahlungsmittel",
  "nav.details": "Meine Daten",
  "nav.order": "Tarif bestellen",
  "nav.logout": "Abmelden",

  "portal.missing_title": "Portal nicht gefunden",
  "portal.missing": "Unter dieser Adresse gibt es kein Kundenportal. Prüfen Sie den Link, den Sie erhalten haben.",
  "notfound.title": "Seite nicht gefunden",

  "login.title": "Anmeldung im Kundenportal",
  "login.intro": "Geben Sie die E-Mail-Adresse ein, die Sie bei {company} verwenden. Wir senden Ihnen einen Einmalcode.",
  "login.email": "E-Mail-Adresse",
  "login.email_invalid": "Geben Sie eine gültige E-Mail-Adresse ein, z. B. name@example.com.",
  "login.send_code": "Code senden",
  "login.code_title": "Code eingeben",
  "login.code_sent": "Wir haben einen 6-stelligen Code an {email} gesendet. Er ist 10 Minuten gültig.",
  "login.code_resent": "Wir haben einen neuen Code an {email} gesendet. Nur der neueste Code gilt.",
  "login.code": "6-stelliger Code",
  "login.code_hint": "Aus der E-Mail an {email}.",
  "login.code_invalid_format": "Geben Sie die 6 Ziffern des Codes ein.",
  "login.submit": "Anmelden",
  "login.resend": "Neuen Code senden",
  "login.resend_in": "Neuen Code senden in {seconds} s",
  "login.other_email": "Andere E-Mail-Adresse verwenden",
  "login.welcome": "Willkommen, {name}.",
  "login.logged_out": "Sie sind abgemeldet.",
  "login.session_ended": "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",

  "subscriptions.title": "Meine Abonnements",
  "subscriptions.none": "Sie haben keine Abonnements.",
  "subscriptions.manage": "{plan} verwalten",
  "subscriptions.back": "Zurück zu meinen Abonnements",
  "subscription.state.trialing": "Testphase",
  "subscription.state.active": "Aktiv",
  "subscription.state.paused": "Pausiert",
  "subscription.state.cancelled": "Gekündigt",
  "subscription.state.expired": "Beendet",
  "subscription.status": "Status",
  "subscription.price": "Preis",
  "subscription.trial_end": "Testphase endet am",
  "subscription.renews": "Verlängert sich am",
  "subscription.paused_at": "Pausiert seit",
  "subscription.resume_at": "Wird fortgesetzt am",
  "subscription.ends_at": "Endet am",
  "subscription.ended": "Beendet am",
  "subscription.payment_method": "Zahlungsmittel",
  "subscription.no_payment_method": "Keines",
  "subscription.payment_failed": "Die letzte Zahlung ist fehlgeschlagen. Bitte prüfen Sie das Zahlungsmittel dieses Abonnements.",
  "subscription.manage": "Dieses Abonnement verwalten",
  "subscription.invoices": "Rechnungen dieses Abonnements",
  "subscription.pause": "Abonnement pausieren",
  "subscription.pause_explain": "Während der Pause zahlen Sie nichts. Sie können jederzeit fortsetzen.",
  "subscription.pause_until": "Automatisch fortsetzen am (optional)",
  "subscription.pause_until_hint": "Leer lassen, um später selbst fortzusetzen.",
  "subscription.pause_until_past": "Wählen Sie ein Datum nach dem heutigen Tag.",
  "subscription.pause_confirm": "Jetzt pausieren",
  "subscription.keep_running": "Weiterlaufen lassen",
  "subscription.pause_unavailable": "Pausieren wird hier nicht angeboten. Bitte wenden Sie sich an {company}.",
  "subscription.resume": "Abonnement fortsetzen",
  "subscription.cancel": "Abonnement kündigen",
  "subscription.cancel_reason": "Warum kündigen Sie?",
  "subscription.cancel_reason_choose": "Grund auswählen",
  "subscription.cancel_reason_required": "Wählen Sie einen Grund aus.",
  "subscription.cancel_comment": "Möchten Sie uns noch etwas mitteilen? (optional)",
  "subscription.cancel_period_end_explain": "Ihr Abonnement läuft bis zum Ende des aktuellen Zeitraums ({date}) weiter und wird nicht verlängert.",
  "subscription.cancel_now_explain": "Ihr Abonnement endet sofort.",
  "subscription.cancel_confirm": "Kündigung bestätigen",
  "subscription.keep": "Abonnement behalten",
  "subscription.cancel_unavailable": "Kündigen wird hier nicht angeboten. Bitte wenden Sie sich an {company}.",
  "subscription.payment_method_choose": "Dieses Abonnement bezahlen mit",
  "subscription.payment_method_save": "Zahlungsmittel ändern",
  "subscription.done.pause": "Ihr Abonnement ist pausiert.",
  "subscription.done.resume": "Ihr Abonnement läuft wieder.",
  "subscription.done.cancel": "Ihr Abonnement ist gekündigt.",
  "subscription.done.payment_method": "Das Zahlungsmittel dieses Abonnements ist geändert.",
  "interval.day": { one: "pro Tag", other: "alle {count} Tage" },
  "interval.month": { one: "pro Monat", other: "alle {count} Monate" },
  "interval.year": { one: "pro Jahr", other: "alle {count} Jahre" },

  "invoices.title": "Meine Rechnungen",
  "invoices.none": "Es gibt noch keine Rechnungen.",
  "invoices.back": "Zurück zu meinen Rechnungen",
  "invoice.title": "Rechnung {handle}",
  "invoice.handle": "Rechnung",
  "invoice.date": "Datum",
  "invoice.amount": "Betrag",
  "invoice.status": "Status",
  "invoice.state.paid": "Bezahlt",
  "invoice.state.failed": "Zahlung fehlgeschlagen",
  "invoice.state.pending": "Offen",
  "invoice.period": "Zeitraum",
  "invoice.period_range": "{start} – {end}",
  "invoice.subscription": "Abonnement",
  "invoice.subscription_link": "Abonnement anzeigen",
  "invoice.lines": "Positionen",
  "invoice.line": "Position",
  "invoice.quantity_times": "{quantity} × {unit}",
  "invoice.line_amount": "Betrag",
  "invoice.subtotal": "Zwischensumme",
  "invoice.discount": "Rabatt",
  "invoice.vat": "MwSt. ({percent} %)",
  "invoice.total": "Gesamt",
  "invoice.transactions": "Zahlungen",
  "invoice.no_transactions": "Noch keine Zahlungen.",
  "transaction.date": "Datum",
  "transaction.amount": "Betrag",
  "transaction.status": "Ergebnis",
  "transaction.state.succeeded": "Erfolgreich",
  "transaction.state.declined": "Abgelehnt",

  "pm.title": "Meine Zahlungsmittel",
  "pm.none": "Sie haben noch keine Zahlungsmittel.",
  "pm.add_link": "Zahlungsmittel hinzufügen",
  "pm.choose": "Wählen Sie ein Zahlungsmittel",
  "pm.card": "{brand} mit Endziffern {last4}",
  "pm.expires": "{month}/{year}",
  "pm.expiry": "Gültig bis",
  "pm.default": "Standard",
  "pm.default_yes": "Für neue Abonnements",
  "pm.remove": "Entfernen",
  "pm.remove_label": "{card} entfernen",
  "pm.removed": "{card} ist entfernt.",
  "pm.add_title": "Zahlungsmittel hinzufügen",
  "pm.gateway_note": "Test-Gateway: Das Kartenformular Ihres Zahlungsanbieters gibt dieser Seite ein Token für die Karte; diese Seite fragt nie nach einer Kartennummer. Probieren Sie tok_visa_4242; ein Token mit „fail“ wird beim Abbuchen abgelehnt.",
  "pm.token": "Karten-Token",
  "pm.token_hint": "Das Token des Zahlungsanbieters, zum Beispiel tok_visa_4242.",
  "pm.brand": "Kartenmarke",
  "pm.last4": "Letzte 4 Ziffern der Karte",
  "pm.last4_invalid": "Geben Sie genau 4 Ziffern ein.",
  "pm.exp_month": "Ablaufmonat",
  "pm.exp_year": "Ablaufjahr",
  "pm.add": "Zahlungsmittel hinzufügen",
  "pm.added": "{card} ist hinzugefügt.",
  "pm.brand.visa": "Visa",
  "pm.brand.mastercard": "Mastercard",
  "pm.brand.amex": "American Express",
  "pm.brand.discover": "Discover",
  "pm.brand.diners": "Diners Club",
  "pm.brand.jcb": "JCB",
  "pm.brand.unionpay": "UnionPay",

  "details.title": "Meine Daten",
  "details.contact": "Kontakt",
  "details.address": "Rechnungsadresse",
  "details.name": "Name",
  "details.email": "E-Mail-Adresse",
  "details.company": "Firma (optional)",
  "details.vat_id": "USt-IdNr. (optional)",
  "details.language": "Sprache von E-Mails und Rechnungen",
  "details.language_hint": "Die Sprache dieser Seite wählen Sie oben.",
  "details.line1": "Straße und Hausnummer",
  "details.line2": "Adresszusatz (optional)",
  "details.postal_code": "Postleitzahl",
  "details.city": "Ort",
  "details.country": "Ländercode",
  "details.country_hint": "Zwei Buchstaben, zum Beispiel DE oder AT.",
  "details.save": "Änderungen speichern",
  "details.saved": "Ihre Daten sind gespeichert.",
  "details.unchanged": "Es wurde nichts geändert.",

  "phone.title": "Mobiltelefon",
  "phone.none": "Noch keine Telefonnummer.",
  "phone.current_verified": "{number} (bestätigt)",
  "phone.current_unverified": "{number} (noch nicht bestätigt)",
  "phone.number": "Mobilnummer",
  "phone.number_hint": "Mit Ländervorwahl, zum Beispiel +49 151 23456789.",
  "phone.number_invalid": "Geben Sie eine Mobilnummer mit Ländervorwahl ein, zum Beispiel +49 151 23456789.",
  "phone.send": "Code per SMS senden",
  "phone.sent": "Wir haben einen 6-stelligen Code per SMS an {number} gesendet.",
  "phone.code": "Code aus der SMS",
  "phone.code_hint": "Gesendet an {number}.",
  "phone.verify": "Nummer bestätigen",
  "phone.change": "Andere Nummer verwenden",
  "phone.verified": "Ihre Telefonnummer ist bestätigt.",

  "order.title": "Tarif bestellen",
  "order.link": "Tarif bestellen",
  "order.unavailable": "Bestellen wird hier nicht angeboten. Bitte wenden Sie sich an {company}.",
  "order.no_plans": "Derzeit gibt es keine Tarife zum Bestellen.",
  "order.plan": "Tarif",
  "order.payment_method": "Bezahlen mit",
  "order.needs_payment_method": "Fügen Sie zuerst ein Zahlungsmittel hinzu.",
  "order.submit": "Jetzt bestellen",
  "order.done": "Ihr neues Abonnement hat begonnen.",
  "order.phone_ready": "Ihre Telefonnummer ist bestätigt. Sie können jetzt bestellen.",

  "error.title": "Etwas ist schiefgegangen",
  "error.generic": "Etwas ist schiefgegangen (Code: {code}). Bitte versuchen Sie es erneut.",
  "error.invalid_link": "Dieser Anmeldelink ist ungültig, bereits benutzt oder abgelaufen. Melden Sie sich stattdessen mit Ihrer E-Mail-Adresse an.",
  "error.unknown_email": "Kein Kundenkonto hier verwendet diese E-Mail-Adresse. Prüfen Sie sie auf Tippfehler.",
  "error.resend_too_soon": "Vor weniger als einer Minute wurde ein Code gesendet. Verwenden Sie diesen oder fordern Sie in {seconds} s einen neuen an.",
  "error.invalid_code": "Dieser Code ist nicht richtig. Prüfen Sie ihn und versuchen Sie es erneut.",
  "error.code_expired": "Dieser Code ist abgelaufen. Fordern Sie einen neuen an.",
  "error.code_exhausted": "Zu viele falsche Versuche: Dieser Code gilt nicht mehr. Fordern Sie einen neuen an.",
  "error.invalid_token": "Dieser Link ist ungültig, bereits benutzt oder abgelaufen.",
  "error.feature_disabled": "Diese Aktion wird hier nicht angeboten. Bitte wenden Sie sich an {company}.",
  "error.invalid_state_transition": "Das ist im aktuellen Zustand des Abonnements nicht möglich. Die Seite zeigt jetzt den neuesten Stand.",
  "error.payment_method_in_use": "Mit diesem Zahlungsmittel wird noch ein Abonnement bezahlt. Wählen Sie dort zuerst ein anderes Zahlungsmittel.",
  "error.raw_card_data_rejected": "Das sieht wie eine Kartennummer aus. Geben Sie hier nie Kartennummern ein, sondern das Token Ihres Zahlungsanbieters.",
  "error.phone_not_allowed": "Diese Telefonnummer kann hier nicht verwendet werden. Verwenden Sie eine andere Nummer oder wenden Sie sich an {company}.",
  "error.phone_verification_required": "Für diesen Tarif ist eine bestätigte Mobilnummer nötig. Bestätigen Sie Ihre Nummer unten und bestellen Sie dann erneut.",
  "error.payment_declined": "Die Zahlung wurde abgelehnt. Wählen Sie ein anderes Zahlungsmittel und versuchen Sie es erneut.",
  "error.payment_method_required": "Wählen Sie ein Zahlungsmittel.",
  "error.validation_error": "Einige Angaben müssen Sie noch korrigieren.",
  "error.not_found": "Dieser Eintrag existiert nicht (mehr).",
  "error.unauthenticated": "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
  "error.too_many_requests": "Zu viele Versuche. Bitte versuchen Sie es in {seconds} s erneut.",
  "error.too_many_attempts": "Zu viele Versuche. Bitte versuchen Sie es in {seconds} s erneut.",
  "error.service_unavailable": "Der Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.",
  "error.network_error": "Der Server ist nicht erreichbar. Prüfen Sie Ihre Verbindung und versuchen Sie es erneut.",
  "error.conflict": "Das wurde gleichzeitig an anderer Stelle geändert. Laden Sie die Seite neu und versuchen Sie es erneut.",
  "error.request_in_progress": "Diese Anfrage wird noch bearbeitet. Warten Sie einen Moment und laden Sie die Seite neu.",
  "error.idempotency_key_reused": "Diese Anfrage wurde bereits gesendet. Laden Sie die Seite neu, um das Ergebnis zu sehen.",
  "error.weak_password": "Dieses Passwort erfüllt die Passwortregeln nicht:",
  "error.invalid_credentials": "Das Passwort ist nicht richtig.",
  "error.captcha_failed": "Die Captcha-Prüfung ist fehlgeschlagen. Bitte versuchen Sie es erneut.",
  "error.email_taken": "Diese E-Mail-Adresse wird bereits verwendet.",
  "error.malformed_json": "Die Anfrage konnte nicht gelesen werden. Laden Sie die Seite neu und versuchen Sie es erneut.",
  "error.payload_too_large": "Das ist zu viel Text. Kürzen Sie ihn und versuchen Sie es erneut.",

  "reason.too_short": "Es ist zu kurz.",
  "reason.too_long": "Es ist zu lang.",
  "reason.missing_lowercase": "Fügen Sie einen Kleinbuchstaben hinzu.",
  "reason.missing_uppercase": "Fügen Sie einen Großbuchstaben hinzu.",
  "reason.missing_digit": "Fügen Sie eine Ziffer hinzu.",
  "reason.missing_special": "Fügen Sie ein Sonderzeichen hinzu, z. B. ! oder #.",
  "reason.contains_personal_info": "Verwenden Sie nicht Ihren Namen, Ihre E-Mail-Adresse oder Ihre Firma.",
  "reason.dictionary_word": "Vermeiden Sie Wörter aus dem Wörterbuch.",
  "reason.common_password": "Dieses Passwort wird häufig verwendet.",
  "reason.sequence": "Vermeiden Sie Folgen wie abc oder 123.",
  "reason.repeated_characters": "Vermeiden Sie wiederholte Zeichen.",
  "reason.reused": "Sie haben dieses Passwort schon verwendet; wählen Sie ein neues.",

  "page.verify.title": "E-Mail-Adresse bestätigen",
  "page.verify.working": "Ihre E-Mail-Adresse wird bestätigt …",
  "page.verify.done": "Ihre E-Mail-Adresse ist bestätigt. Sie können sich jetzt bei Portico anmelden.",
  "page.verify.invalid": "Dieser Bestätigungslink ist ungültig, bereits benutzt oder abgelaufen (Links sind 24 Stunden gültig).",
  "page.verify.resend_title": "Neuen Bestätigungslink anfordern",
  "page.verify.resend": "Neuen Link senden",
  "page.verify.resent": "Falls diese Adresse auf ihre Bestätigung wartet, ist ein neuer Link unterwegs. Sehen Sie in Ihr Postfach.",
  "page.missing_token": "Diese Seite braucht den Link aus Ihrer E-Mail. Öffnen Sie den Link aus der E-Mail erneut.",
  "page.email": "E-Mail-Adresse",

  "page.reset.title": "Neues Passwort festlegen",
  "page.reset.new": "Neues Passwort",
  "page.reset.repeat": "Neues Passwort wiederholen",
  "page.reset.mismatch": "Die beiden Passwörter stimmen nicht überein.",
  "page.reset.rules": "Verwenden Sie mindestens 12 Zeichen mit Klein- und Großbuchstaben, einer Ziffer und einem Sonderzeichen, und nichts leicht zu Erratendes. Die Regeln Ihres Kontos können mehr verlangen.",
  "page.reset.submit": "Neues Passwort festlegen",
  "page.reset.done": "Ihr Passwort ist geändert, und alle Sitzungen Ihres Logins sind beendet. Melden Sie sich mit dem neuen Passwort an.",
  "page.reset.invalid": "Dieser Link zum Zurücksetzen ist ungültig, bereits benutzt oder abgelaufen (Links sind 30 Minuten gültig).",
  "page.reset.sms_intro": "Einen Code per SMS erhalten? Geben Sie Ihre E-Mail-Adresse, den Code und Ihr neues Passwort ein.",
  "page.reset.code": "Code aus der SMS",
  "page.reset.request_title": "Neuen Link zum Zurücksetzen anfordern",
  "page.reset.channel": "Senden per",
  "page.reset.channel_email": "E-Mail",
  "page.reset.channel_sms": "SMS an meine bestätigte Nummer",
  "page.reset.request": "Senden",
  "page.reset.requested": "Falls zu dieser Adresse ein Login gehört, haben wir Ihnen einen Weg zum Zurücksetzen gesendet. Sehen Sie in Ihr Postfach oder auf Ihr Telefon.",

  "page.invite.title": "Einladung annehmen",
  "page.invite.intro": "Sie sind eingeladen, {account} als {email} beizutreten.",
  "page.invite.expires": "Die Einladung gilt bis {date}.",
  "page.invite.existing": "Zu dieser Adresse gibt es schon einen Portico-Login: Geben Sie dessen Passwort ein, um beizutreten.",
  "page.invite.new": "Wählen Sie Ihren Namen und ein Passwort für Ihren neuen Login.",
  "page.invite.name": "Ihr Name",
  "page.invite.password": "Passwort",
  "page.invite.new_password": "Passwort wählen",
  "page.invite.submit": "{account} beitreten",
  "page.invite.done": "Sie sind {account} beigetreten. Melden Sie sich mit {email} an.",
  "page.invite.invalid": "Diese Einladung ist ungültig, bereits benutzt oder abgelaufen. Bitten Sie die einladende Person um eine neue.",

  "page.confirm.title": "Neue E-Mail-Adresse bestätigen",
  "page.confirm.working": "Ihre neue E-Mail-Adresse wird bestätigt …",
  "page.confirm.done": "Ihre neue E-Mail-Adresse ist bestätigt. Verwenden Sie sie bei der nächsten Anmeldung.",
  "page.confirm.invalid": "Dieser Bestätigungslink ist ungültig, bereits benutzt oder abgelaufen.",
  "page.confirm.unavailable": "Das Ändern der E-Mail-Adresse ist auf diesem Server noch nicht verfügbar, daher kann dieser Link hier nicht bestätigt werden.",
  "page.confirm.login": "Melden Sie sich zuerst in diesem Browser bei Portico an und öffnen Sie den Link dann erneut.",
};

const MESSAGES = { en: EN, de: DE };
export const SUPPORTED = Object.keys(MESSAGES);
const STORAGE_KEY = "portico.language";

let current = "en";
const listeners = [];

export function language() {
  return current;
}

/** The locale for Intl: the browser's own variant of the chosen language (de-AT), else the language. */
export function locale() {
  const preferred = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  return preferred.find((tag) => tag && tag.toLowerCase().split("-")[0] === current) || current;
}

export function setLanguage(code) {
  current = MESSAGES[code] ? code : "en";
  document.documentElement.lang = current;
}

export function onLanguageChange(listener) {
  listeners.push(listener);
}

export function chooseLanguage(offered, fallback) {
  const available = (offered || SUPPORTED).filter((code) => MESSAGES[code]);
  let stored = null;
  try {
    stored = window.localStorage.getItem(STORAGE_KEY);
  } catch {
    stored = null;
  }
  if (stored && available.includes(stored)) return stored;
  const preferred = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
  for (const tag of preferred) {
    const base = String(tag || "").toLowerCase().split("-")[0];
    if (available.includes(base)) return base;
  }
  return available.includes(fallback) ? fallback : available[0] || "en";
}

function remember(code) {
  try {
    window.localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // not kept: the choice lasts for this page
  }
}

export function t(key, params = {}) {
  let entry = MESSAGES[current][key];
  if (entry === undefined) entry = EN[key];
  if (entry === undefined) return key;
  if (typeof entry === "object") {
    const rule = new Intl.PluralRules(current).select(Number(params.count ?? 0));
    entry = entry[rule] ?? entry.other;
  }
  return entry.replace(/\{(\w+)\}/g, (match, name) => (params[name] === undefined ? match : String(params[name])));
}

export function has(key) {
  return EN[key] !== undefined;
}

/** The reader's message for an API error (an ApiError), with {company} etc. from context. */
export function errorText(error, context = {}) {
  const code = (error && error.code) || "generic";
  const seconds = error && error.retryAfter ? error.retryAfter : 60;
  if (has(`error.${code}`)) return t(`error.${code}`, { ...context, seconds });
  if (error && error.status === 429) return t("error.too_many_requests", { seconds });
  if (error && error.status >= 500) return t("error.service_unavailable");
  return t("error.generic", { code });
}

/** One item of a validation_error's errors, in words (its type; pydantic's text is English only). */
export function fieldErrorText(item) {
  const type = String((item && item.type) || "");
  const message = String((item && item.msg) || "");
  if (type === "missing") return t("field.required");
  if (type.includes("too_long")) return t("field.too_long");
  if (/email/i.test(message)) return t("field.email");
  if (type.includes("pattern") || type.includes("literal")) return t("field.format");
  return t("field.invalid");
}

/** The language select; switching re-renders through onLanguageChange listeners. */
export function languageSwitcher(offered) {
  const id = uid("language");
  const label = h("label", { for: id }, t("language.label"));
  const select = h(
    "select",
    { id },
    (offered || SUPPORTED)
      .filter((code) => MESSAGES[code])
      .map((code) => {
        const option = h("option", { value: code, lang: code }, t(`language.${code}`));
        option.selected = code === current;
        return option;
      }),
  );
  select.addEventListener("change", () => {
    setLanguage(select.value);
    remember(select.value);
    label.textContent = t("language.label");
    for (const listener of listeners) listener(select.value);
  });
  return h("div", { class: "language" }, label, select);
}
