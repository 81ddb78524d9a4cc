import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { vi } from 'vitest';
import App from './App';

// The server is not running in the client's tests: fetch answers from here.
function serve(items: { id: string; name: string }[]) {
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });
{% if options.auth == "yes" %}
    if (url.startsWith('/api/auth/')) return json({ token: 't' });
{% endif %}
    if (init?.method === 'POST') {
      const item = { id: String(items.length + 1), ...JSON.parse(String(init.body)) };
      items.push(item);
      return json(item, 201);
    }
    return json(items);
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

afterEach(() => {
  vi.unstubAllGlobals();
});

test('lists the items from the server', async () => {
  serve([{ id: '1', name: 'milk' }]);
  render(<App />);
  expect(await screen.findByText('milk')).toBeInTheDocument();
});

test('adds an item', async () => {
  serve([]);
  render(<App />);
{% if options.auth == "yes" %}
  await userEvent.type(screen.getByLabelText('email'), 'a@example.com');
  await userEvent.type(screen.getByLabelText('password'), 'password1');
  await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
{% endif %}
  await userEvent.type(await screen.findByLabelText('name'), 'bread');
  await userEvent.click(screen.getByRole('button', { name: 'Add' }));
  expect(await screen.findByText('bread')).toBeInTheDocument();
});
