// The pages load the built client as ./password-api.js (local-api serves
// dist/index.js under that name); its types come from the build.
export * from "../dist/index.js";
