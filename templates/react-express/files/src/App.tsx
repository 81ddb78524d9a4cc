import { useEffect, useState, type FormEvent } from 'react';
import { addItem, listItems, type Item{% if options.auth == "yes" %}, signIn, signedIn{% endif %} } from './api';

export default function App() {
  const [items, setItems] = useState<Item[]>([]);
  const [name, setName] = useState('');
  const [error, setError] = useState('');
{% if options.auth == "yes" %}
  const [user, setUser] = useState(signedIn());
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
{% endif %}

  useEffect(() => {
    listItems().then(setItems, (e: Error) => setError(e.message));
  }, []);

  async function add(event: FormEvent) {
    event.preventDefault();
    try {
      const item = await addItem(name);
      setItems((list) => [...list, item]);
      setName('');
    } catch (e) {
      setError((e as Error).message);
    }
  }
{% if options.auth == "yes" %}

  async function login(event: FormEvent, register: boolean) {
    event.preventDefault();
    try {
      await signIn(email, password, register);
      setUser(true);
      setError('');
    } catch (e) {
      setError((e as Error).message);
    }
  }
{% endif %}

  return (
    <main>
      <h1>{{ title }}</h1>
      {error && <p role="alert">{error}</p>}
      <ul>
        {items.map((item) => (
          <li key={item.id}>{item.name}</li>
        ))}
      </ul>
{% if options.auth == "yes" %}
      {user ? (
        <form onSubmit={add}>
          <input aria-label="name" value={name} onChange={(e) => setName(e.target.value)} />
          <button type="submit">Add</button>
        </form>
      ) : (
        <form onSubmit={(e) => login(e, false)}>
          <input aria-label="email" value={email} onChange={(e) => setEmail(e.target.value)} />
          <input aria-label="password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} />
          <button type="submit">Sign in</button>
          <button type="button" onClick={(e) => login(e, true)}>
            Register
          </button>
        </form>
      )}
{% else %}
      <form onSubmit={add}>
        <input aria-label="name" value={name} onChange={(e) => setName(e.target.value)} />
        <button type="submit">Add</button>
      </form>
{% endif %}
    </main>
  );
}
