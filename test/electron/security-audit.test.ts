/**
 * An offline static security audit of the built main process and preload, in the spirit of
 * Electronegativity (not used: it would add a large dependency tree to a shared lockfile). Parses
 * the emitted JavaScript with the TypeScript compiler and fails on any high-severity finding.
 * The rules are tested on insecure snippets first, so a silent auditor cannot pass the build.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { builtDir, ensureMainBuilt } from './helpers.js';

interface Finding {
  rule: string;
  severity: 'high' | 'medium';
  file: string;
  line: number;
  text: string;
}

/** webPreferences that must be exactly this literal wherever they are set. */
const mustBe: Record<string, boolean> = {
  contextIsolation: true,
  sandbox: true,
  webSecurity: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  allowRunningInsecureContent: false,
  experimentalFeatures: false,
  webviewTag: false,
};
const forbiddenProps = new Set(['enableBlinkFeatures', 'blinkFeatures', 'enableRemoteModule']);
const forbiddenSwitches =
  /disable-web-security|ignore-certificate-errors|allow-running-insecure-content|disable-site-isolation|no-sandbox|remote-debugging-port/;
const ipcMethods = new Set(['invoke', 'send', 'sendSync', 'on', 'once', 'postMessage', 'sendToHost']);

function propName(n: ts.PropertyName | ts.Expression): string | undefined {
  if (ts.isIdentifier(n) || ts.isStringLiteral(n) || ts.isPrivateIdentifier(n)) return n.text;
  return undefined;
}
function calleeName(e: ts.Expression): string | undefined {
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return undefined;
}
function mentions(n: ts.Node, name: string): boolean {
  let found = false;
  const visit = (c: ts.Node) => {
    if (found) return;
    if (ts.isIdentifier(c) && c.text === name) found = true;
    else ts.forEachChild(c, visit);
  };
  visit(n);
  return found;
}
function enclosingFunction(n: ts.Node): ts.FunctionLikeDeclaration | undefined {
  for (let p = n.parent; p; p = p.parent)
    if (ts.isFunctionLike(p) && 'body' in p) return p as ts.FunctionLikeDeclaration;
  return undefined;
}

export function audit(files: { file: string; code: string }[]): Finding[] {
  const findings: Finding[] = [];
  for (const { file, code } of files) {
    const sf = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
    const add = (rule: string, node: ts.Node, severity: Finding['severity'] = 'high') =>
      findings.push({
        rule,
        severity,
        file,
        line: sf.getLineAndCharacterOfPosition(node.getStart()).line + 1,
        text: node.getText().slice(0, 120),
      });

    const visit = (n: ts.Node) => {
      if (
        (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n) || ts.isTemplateHead(n)) &&
        /^file:/i.test(n.text)
      )
        add('file:// URL in code', n);
      if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'Function')
        add('dynamic code evaluation', n);
      if (ts.isPropertyAssignment(n) || ts.isShorthandPropertyAssignment(n)) {
        const name = propName(n.name);
        if (name && name in mustBe) {
          const want = mustBe[name];
          const init = ts.isPropertyAssignment(n) ? n.initializer : undefined;
          const literal =
            init &&
            (init.kind === ts.SyntaxKind.TrueKeyword
              ? true
              : init.kind === ts.SyntaxKind.FalseKeyword
                ? false
                : undefined);
          if (literal !== want) add(`${name} must be ${want}`, n);
        }
        if (name && forbiddenProps.has(name)) add(`${name} enables unsafe features`, n);
      }
      if (ts.isCallExpression(n)) {
        const callee = calleeName(n.expression);
        const first = n.arguments[0];
        if (callee === 'openExternal') {
          // The URL must come from safeExternalUrl() in the same function.
          const fn = enclosingFunction(n);
          const ok =
            first &&
            ts.isIdentifier(first) &&
            fn?.body &&
            new RegExp(`\\b${first.text}\\s*=\\s*(\\w+\\.)?safeExternalUrl\\(`).test(fn.body.getText()) &&
            /if\s*\(\s*!\s*\w+\s*\)\s*return/.test(fn.body.getText());
          if (!ok) add('shell.openExternal with unvalidated input', n);
        }
        if (
          callee === 'loadFile' ||
          (callee === 'loadURL' && first && ts.isStringLiteral(first) && !first.text.startsWith('app://'))
        )
          add('renderer loaded from outside app://', n);
        if (callee === 'eval' || (ts.isIdentifier(n.expression) && n.expression.text === 'Function'))
          add('dynamic code evaluation', n);
        if (
          callee === 'appendSwitch' &&
          first &&
          ts.isStringLiteral(first) &&
          forbiddenSwitches.test(first.text)
        )
          add(`insecure switch ${first.text}`, n);
        if (callee === 'exposeInMainWorld' || callee === 'exposeInIsolatedWorld') {
          const api = n.arguments[n.arguments.length - 1];
          if (api) {
            if (ts.isIdentifier(api) && /^(ipcRenderer|require|process|electron)$/.test(api.text))
              add('raw Electron/Node object exposed', n);
            // Find the exposed object (inline or a const in this file) and check its members.
            let obj: ts.Node | undefined = api;
            if (ts.isIdentifier(api)) {
              const decl = sf.statements
                .flatMap((s) => (ts.isVariableStatement(s) ? [...s.declarationList.declarations] : []))
                .find((d) => ts.isIdentifier(d.name) && d.name.text === api.text);
              obj = decl?.initializer;
            }
            if (obj && ts.isObjectLiteralExpression(obj)) {
              for (const p of obj.properties) {
                const value = ts.isPropertyAssignment(p)
                  ? p.initializer
                  : ts.isShorthandPropertyAssignment(p)
                    ? p.name
                    : undefined;
                if (
                  value &&
                  (ts.isIdentifier(value)
                    ? /^(ipcRenderer|require|process|webUtils|contextBridge)$/.test(value.text)
                    : ts.isPropertyAccessExpression(value) && mentions(value.expression, 'ipcRenderer'))
                ) {
                  add('raw ipcRenderer (or Node) exposed to the page', p);
                }
                // A bridge method must not let the page choose the IPC channel.
                const fn = ts.isMethodDeclaration(p)
                  ? p
                  : value && (ts.isArrowFunction(value) || ts.isFunctionExpression(value))
                    ? value
                    : undefined;
                if (fn) {
                  const params = new Set(
                    fn.parameters.flatMap((q) => (ts.isIdentifier(q.name) ? [q.name.text] : [])),
                  );
                  const scan = (c: ts.Node) => {
                    if (
                      ts.isCallExpression(c) &&
                      ts.isPropertyAccessExpression(c.expression) &&
                      mentions(c.expression.expression, 'ipcRenderer') &&
                      ipcMethods.has(c.expression.name.text)
                    ) {
                      const ch = c.arguments[0];
                      if (ch && ts.isIdentifier(ch) && params.has(ch.text)) add('page-chosen IPC channel', c);
                    }
                    ts.forEachChild(c, scan);
                  };
                  if (fn.body) scan(fn.body);
                }
              }
            }
          }
        }
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return findings;
}

describe('audit rules (on insecure snippets)', () => {
  const one = (code: string) => audit([{ file: 'snippet.js', code }]).map((f) => f.rule);
  it('flags insecure webPreferences', () => {
    expect(
      one(
        'new BrowserWindow({ webPreferences: { nodeIntegration: true, contextIsolation: false, sandbox: false, webSecurity: false } })',
      ),
    ).toEqual([
      'nodeIntegration must be false',
      'contextIsolation must be true',
      'sandbox must be true',
      'webSecurity must be true',
    ]);
    expect(
      one(
        'x = { allowRunningInsecureContent: true, experimentalFeatures: true, enableBlinkFeatures: "CSSVariables", sandbox: flag }',
      ),
    ).toHaveLength(4);
  });
  it('flags unvalidated openExternal, file:// loads, eval and insecure switches', () => {
    expect(one("contents.on('will-navigate', (e, url) => shell.openExternal(url))")).toEqual([
      'shell.openExternal with unvalidated input',
    ]);
    expect(
      one('function f(u) { const s = safeExternalUrl(u); if (!s) return; shell.openExternal(s); }'),
    ).toEqual([]);
    expect(one("win.loadURL('file:///index.html'); win.loadFile('index.html')")).toEqual([
      'renderer loaded from outside app://',
      'file:// URL in code',
      'renderer loaded from outside app://',
    ]);
    expect(one('eval(x); new Function("a")')).toHaveLength(2);
    expect(one("app.commandLine.appendSwitch('ignore-certificate-errors')")).toHaveLength(1);
  });
  it('flags a raw ipcRenderer or page-chosen channels in the preload', () => {
    expect(one("contextBridge.exposeInMainWorld('ipc', ipcRenderer)")).toContain(
      'raw Electron/Node object exposed',
    );
    expect(
      one("contextBridge.exposeInMainWorld('api', { ipcRenderer, send: import_electron.ipcRenderer.send })"),
    ).toEqual([
      'raw ipcRenderer (or Node) exposed to the page',
      'raw ipcRenderer (or Node) exposed to the page',
    ]);
    expect(
      one(
        "const api = { invoke: (ch, ...a) => import_electron.ipcRenderer.invoke(ch, ...a) }; contextBridge.exposeInMainWorld('api', api)",
      ),
    ).toEqual(['page-chosen IPC channel']);
    expect(
      one(
        "const api = { call: (op, a) => import_electron.ipcRenderer.invoke(channels.call, { op, a }) }; contextBridge.exposeInMainWorld('api', api)",
      ),
    ).toEqual([]);
  });
});

describe('audit of the built main and preload', () => {
  let files: { file: string; code: string }[];
  beforeAll(async () => {
    await ensureMainBuilt();
    files = readdirSync(builtDir)
      .filter((f) => f.endsWith('.js') || f.endsWith('.cjs'))
      .map((f) => ({ file: f, code: readFileSync(join(builtDir, f), 'utf8') }));
  }, 240_000);

  it('has no high-severity finding', () => {
    const high = audit(files).filter((f) => f.severity === 'high');
    expect(high, JSON.stringify(high, null, 2)).toEqual([]);
  });

  it('sets the secure webPreferences, the guards and the permission handlers', () => {
    const all = files.map((f) => f.code).join('\n');
    for (const needle of [
      'contextIsolation: true',
      'sandbox: true',
      'nodeIntegration: false',
      'webSecurity: true',
      'setPermissionRequestHandler',
      'setPermissionCheckHandler',
      'setWindowOpenHandler',
      'will-navigate',
      'registerSchemesAsPrivileged',
      'enableSandbox',
      'requestSingleInstanceLock',
    ]) {
      expect(all, needle).toContain(needle);
    }
  });

  it('sends a strict CSP on every app:// response', async () => {
    const policy = (await import(
      pathToFileURL(join(builtDir, 'policy.js')).href
    )) as typeof import('../../src-main/electron/policy.js');
    const csp = policy.contentSecurityPolicy();
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).toMatch(/object-src 'none'/);
    expect(csp).not.toMatch(/unsafe-eval|script-src[^;]*unsafe-inline|\*/);
    expect(readFileSync(join(builtDir, 'app-protocol.js'), 'utf8')).toMatch(/securityHeaders\(\)/);
  });

  it('preload exposes exactly one bridge and no raw modules', () => {
    const preload = files.find((f) => f.file === 'preload.cjs')!.code;
    expect(preload.match(/exposeInMainWorld\(/g)).toHaveLength(1);
    expect(preload).not.toMatch(/exposeInMainWorld\([^)]*ipcRenderer\s*\)/);
    // Bundled: the only module it loads is electron.
    expect([...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1])).toEqual(['electron']);
  });
});
