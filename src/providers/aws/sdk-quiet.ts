/**
 * Keeps the AWS SDK's Node end-of-support notice (on Node < 22:
 * "NodeVersionSupportWarning … will require node >=22") off the terminal.
 * The SDK emits it when the first client is built, a tick after which the
 * first spinner is already drawing, so it tore through the spinner's line.
 * dynwork ships the SDK pinned by npm-shrinkwrap.json and supports Node 20
 * (README, `engines`), so the notice tells a dynwork user nothing to act on.
 * The switch is the SDK's documented one (aws/aws-sdk-js-v3#7983); anyone
 * who wants the notice back sets it to "false".
 *
 * Imported first by clients.ts, so it runs before any SDK module does.
 */
const SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
if (!process.env[SWITCH]) process.env[SWITCH] = 'true';
