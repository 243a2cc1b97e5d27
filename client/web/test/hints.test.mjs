// PASSWORD.WEAK's warning and suggestions arrive rendered by the server in
// the request's language (params.warningMessage, params.suggestionMessages),
// in each of the five catalogues' languages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { ApiError, PasswordApi, isWeakPasswordDetail, violationTexts } from "../dist/index.js";
import { BASE_URL, edgeHeaders, newUser, strongPassword, token } from "./helpers.mjs";

const catalogue = (lang) => JSON.parse(readFileSync(new URL(`../../../shared/i18n/${lang}.json`, import.meta.url), "utf8"));

for (const lang of ["en", "zh", "zh-Hant", "ja", "vi"]) {
  test(`weak-password hints in ${lang}`, async () => {
    const texts = catalogue(lang);
    const current = strongPassword();
    const user = await newUser(current);
    const api = await PasswordApi.connect({ baseUrl: BASE_URL, headers: edgeHeaders(), language: lang });
    const e = await api.changePassword({ currentPassword: current, newPassword: "passwordpassword" }, { accessToken: await token(user.bizId) }).catch((x) => x);
    assert.ok(e instanceof ApiError && e.isPolicyViolation(), String(e));
    const weak = e.details.find(isWeakPasswordDetail);
    assert.ok(weak, JSON.stringify(e.details));
    const p = weak.params;
    assert.match(p.warning, /^PASSWORD\.WARNING\./);
    assert.equal(p.warningMessage, texts[p.warning]);
    assert.ok(p.suggestions.length > 0);
    assert.deepEqual(p.suggestionMessages, p.suggestions.map((s) => texts[s]));
    const { message, hints } = violationTexts(weak);
    assert.equal(message, weak.message);
    assert.deepEqual(hints, [p.warningMessage, ...p.suggestionMessages]);
    if (lang !== "en") assert.notEqual(p.warningMessage, catalogue("en")[p.warning]);
  });
}
