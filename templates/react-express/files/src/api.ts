// The client's calls to the server (/api/..., proxied to it by Vite in development).
export interface Item {
  id: string;
  name: string;
}

{% if options.auth == "yes" %}
let token = '';

export function signedIn(): boolean {
  return token !== '';
}

export async function signIn(email: string, password: string, register = false): Promise<void> {
  const body = await call<{ token: string }>(register ? '/api/auth/register' : '/api/auth/login', 'POST', {
    email,
    password,
  });
  token = body.token;
}

{% endif %}
async function call<T>(path: string, method = 'GET', body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
{% if options.auth == "yes" %}
  if (token) headers.Authorization = `Bearer ${token}`;
{% endif %}
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) {
    const error = await res.json().catch(() => ({ error: res.statusText }));
    throw new Error(error.error ?? res.statusText);
  }
  return (res.status === 204 ? undefined : await res.json()) as T;
}

export const listItems = () => call<Item[]>('/api/items');
export const addItem = (name: string) => call<Item>('/api/items', 'POST', { name });
export const removeItem = (id: string) => call<void>(`/api/items/${id}`, 'DELETE');
