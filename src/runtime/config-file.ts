import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { z } from 'zod';
import { DynworkError } from '../errors.js';
import { parseConfig } from '../settings/parse.js';

/** Reads a role's JSON config. It holds tokens, so it must not be readable by others. */
export function loadConfigFile<T extends z.ZodTypeAny>(schema: T, file: string): z.infer<T> {
  let text: string;
  try {
    const st = statSync(file);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new DynworkError('config_invalid', `config ${file} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, {
        hint: `chmod 600 ${file}`,
      });
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof DynworkError) throw err;
    throw new DynworkError('config_invalid', `cannot read config ${file}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DynworkError('config_invalid', `config ${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseConfig(schema, resolveKeyFile(readTokenFiles(json, file), file), file);
}

/**
 * `clientTokenFile` / `workerTokenFile` name a file holding the token, so a
 * config can be shipped without secrets (aws: user-data). A relative name is
 * read from systemd's $CREDENTIALS_DIRECTORY (LoadCredential=), which only the
 * service can read, else beside the config.
 */
function readTokenFiles(json: unknown, configFile: string): unknown {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return json;
  const out: Record<string, unknown> = { ...(json as Record<string, unknown>) };
  for (const key of ['clientToken', 'workerToken']) {
    const ref = out[`${key}File`];
    if (ref === undefined) continue;
    delete out[`${key}File`];
    if (typeof ref !== 'string' || ref === '') throw new DynworkError('config_invalid', `config ${configFile}: ${key}File must be a file name`);
    const path = credentialPath(ref, configFile);
    try {
      out[key] = readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new DynworkError('config_invalid', `config ${configFile}: cannot read ${key}File ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}

function credentialPath(ref: string, configFile: string): string {
  return isAbsolute(ref) ? ref : join(process.env.CREDENTIALS_DIRECTORY ?? dirname(configFile), ref);
}

/**
 * `tls` files found the way token files are: the CA read in (peers and
 * workers are checked against it), the certificate and key names made
 * absolute (the server reads them when it starts).
 */
function resolveKeyFile(json: unknown, configFile: string): unknown {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return json;
  const tls = (json as { tls?: unknown }).tls;
  if (!tls || typeof tls !== 'object' || Array.isArray(tls)) return json;
  const t: Record<string, unknown> = { ...(tls as Record<string, unknown>) };
  for (const key of ['keyFile', 'certFile']) if (typeof t[key] === 'string' && t[key] !== '') t[key] = credentialPath(t[key], configFile);
  if (typeof t.caFile === 'string' && t.caFile !== '') {
    const path = credentialPath(t.caFile, configFile);
    try {
      t.ca = readFileSync(path, 'utf8');
    } catch (err) {
      throw new DynworkError('config_invalid', `config ${configFile}: cannot read tls.caFile ${path}: ${(err as Error).message}`, { cause: err });
    }
    delete t.caFile;
  }
  return { ...json, tls: t };
}
