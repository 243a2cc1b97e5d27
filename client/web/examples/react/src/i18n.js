// The example's own labels in English and Japanese. Everything the server
// says (messages, policy violations, password hints) arrives already in the
// browser's language (Accept-Language, one of the service's five).
const TEXT = {
  en: {
    home: "Home", signin: "Sign in", change: "Change password", status: "Password status", init: "Set first password",
    forgot: "Forgot password", reset: "Reset password", signOut: "Sign out", signedInAs: "Signed in as {email}",
    email: "Email address", password: "Password", currentPassword: "Current password", newPassword: "New password",
    checkStatus: "Check status", send: "Send reset link", working: "Working…", needSignIn: "Sign in first.",
    signInAgain: "Sign in again", tokenGone: "Your sign-in is no longer valid.", changed: "Your password has been changed. That ended your sign-in.",
    wait: "Try again in {n} s.", locked: "The account is locked: try again in {n} s.", rulesBroken: "The new password breaks these rules:",
    linkMissing: "Open this screen from the link in your email.", newLink: "Ask for a new link.",
    passwordSet: "Password set", lastChanged: "Last changed", mustChange: "Must change", yes: "Yes", no: "No", never: "Never",
    initDone: "Your password is set and the account {email} is active.", welcome: "The five password screens and a sign-in, in React.",
  },
  ja: {
    home: "ホーム", signin: "サインイン", change: "パスワード変更", status: "パスワードの状態", init: "最初のパスワード設定",
    forgot: "パスワードを忘れた", reset: "パスワード再設定", signOut: "サインアウト", signedInAs: "{email} でサインイン中",
    email: "メールアドレス", password: "パスワード", currentPassword: "現在のパスワード", newPassword: "新しいパスワード",
    checkStatus: "状態を確認", send: "再設定リンクを送信", working: "処理中…", needSignIn: "先にサインインしてください。",
    signInAgain: "もう一度サインイン", tokenGone: "サインインが無効になりました。", changed: "パスワードを変更しました。サインインは終了しました。",
    wait: "{n} 秒後に再試行してください。", locked: "アカウントはロックされています：{n} 秒後に再試行してください。", rulesBroken: "新しいパスワードは次のルールに反しています：",
    linkMissing: "メールのリンクからこの画面を開いてください。", newLink: "新しいリンクを依頼してください。",
    passwordSet: "パスワード設定済み", lastChanged: "最終変更", mustChange: "変更が必要", yes: "はい", no: "いいえ", never: "なし",
    initDone: "パスワードを設定し、アカウント {email} を有効にしました。", welcome: "5 つのパスワード画面とサインイン（React）。",
  },
};

const lang = (navigator.languages?.[0] ?? navigator.language ?? "en").toLowerCase().startsWith("ja") ? "ja" : "en";

export function t(key, params = {}) {
  const text = TEXT[lang][key] ?? TEXT.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

export const LANG = lang;
