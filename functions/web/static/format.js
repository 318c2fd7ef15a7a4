// Amounts and dates for the reader's language. Amounts are integers in the currency's minor units
// (docs/api.md, "Conventions"); the exponent comes from the ISO 4217 table the server embeds in the page
// (the one it computes invoices with), so JPY has no decimals and BHD three, whatever a browser's
// own data says. The decimal goes to Intl.NumberFormat as a string: exact, no float rounding.

let exponents = {};

export function setCurrencies(table) {
  exponents = table || {};
}

export function exponent(currency) {
  if (Object.hasOwn(exponents, currency)) return exponents[currency];
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

export function decimal(amount, digits) {
  const negative = amount < 0;
  const text = String(Math.abs(Math.trunc(amount))).padStart(digits + 1, "0");
  const whole = digits ? text.slice(0, -digits) : text;
  const fraction = digits ? `.${text.slice(-digits)}` : "";
  return `${negative ? "-" : ""}${whole}${fraction}`;
}

export function money(amount, currency, locale) {
  const digits = exponent(currency);
  try {
    return new Intl.NumberFormat(locale, {
      style: "currency",
      currency,
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(decimal(amount, digits));
  } catch {
    return `${decimal(amount, digits)} ${currency}`;
  }
}

export function date(iso, locale) {
  if (!iso) return "";
  const value = new Date(iso);
  if (Number.isNaN(value.getTime())) return "";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium" }).format(value);
}

export function dateTime(iso, locale) {
  if (!iso) return "";
  const value = new Date(iso);
  if (Number.isNaN(value.getTime())) return "";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(value);
}
