import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import type { EntraHttp } from './entra-http.js';

/**
 * msal-node's network module on top of the gateway's EntraHttp, so msal reaches Entra with the
 * same CA, timeout and size bound as everything else (and a simulator's CA without touching the
 * process-wide trust store).
 */
export function msalNetwork(http: EntraHttp): INetworkModule {
  return {
    sendGetRequestAsync: <T>(url: string, options?: NetworkRequestOptions, timeout?: number) =>
      send<T>(http.get(url, options?.headers ?? {}, timeout)),
    sendPostRequestAsync: <T>(url: string, options?: NetworkRequestOptions) =>
      send<T>(http.post(url, options?.headers ?? {}, options?.body ?? '')),
  };
}

async function send<T>(pending: ReturnType<EntraHttp['get']>): Promise<NetworkResponse<T>> {
  const response = await pending;
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    body = {};
  }
  return { status: response.status, headers: response.headers, body: body as T };
}
