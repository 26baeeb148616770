import { mount } from 'svelte';
import './styles.css';
import App from './App.svelte';
import { AppState } from './lib/app.svelte.js';
import { connect, errorText } from './lib/client.js';

const target = document.getElementById('app')!;

async function start(): Promise<void> {
  try {
    const { client, platform } = await connect();
    const app = new AppState(client, platform);
    mount(App, { target, props: { app } });
    await app.init();
    const demo = Number(new URLSearchParams(location.search).get('demoRows'));
    // Dev-only hook (bench, screenshots): fill Predict with hand-made rows.
    if (import.meta.env.DEV && demo > 0) {
      const { demoRows } = await import('./lib/fake-service.js');
      app.predict.load(demoRows(demo));
    }
  } catch (err) {
    target.innerHTML = '';
    const p = document.createElement('p');
    p.setAttribute('role', 'alert');
    p.className = 'alert';
    p.textContent = errorText(err);
    target.append(p);
  }
}

void start();
