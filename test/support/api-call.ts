import { expect } from 'vitest';

/**
 * One JSON request to a test server with a key: the status and the parsed body (undefined when
 * empty). For integration and end-to-end tests that talk to the real server over loopback.
 */
export async function callApi(
  baseUrl: string,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text.length > 0 ? JSON.parse(text) : undefined };
}

/** {@link callApi} for a request that must succeed (status below 300, else the test fails naming it): the parsed body. */
export async function callApiOk(baseUrl: string, key: string, method: string, path: string, body?: unknown): Promise<any> {
  const { status, json } = await callApi(baseUrl, key, method, path, body);
  expect(status, `${method} ${path}: ${JSON.stringify(json)}`).toBeLessThan(300);
  return json;
}
