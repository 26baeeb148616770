import './dom-shims.js';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import App from '../../src-renderer/App.svelte';
import { AppState } from '../../src-renderer/lib/app.svelte.js';
import { FakeService, demoModel, type FakeOptions } from '../../src-renderer/lib/fake-service.js';
import { ServiceClient, ServiceError } from '../../src-main/contract.js';

async function setup(opts: FakeOptions = {}, hash = '#/datasets') {
  history.replaceState(null, '', hash);
  const fake = new FakeService({ stepMs: 1, ...opts });
  const app = new AppState(new ServiceClient(fake), { kind: 'browser' });
  render(App, { props: { app } });
  await app.init();
  return { fake, app };
}

/** One imported dataset (ds-1, /data/mnist) for the views that need one to start a job. */
async function addDataset(fake: FakeService, app: AppState) {
  fake.datasets.push({
    id: 'ds-1',
    root: '/data/mnist',
    images: 10,
    classes: ['0'],
    preprocessing: {} as never,
    importedAt: '',
  });
  await app.refreshDatasets();
}

afterEach(() => cleanup());

describe('App shell', () => {
  it('points to the demo model from the first screen and lists it once in Evaluate', async () => {
    history.replaceState(null, '', '#/datasets');
    const fake = new FakeService({ stepMs: 1 });
    fake.models = [demoModel({ demo: true })];
    const app = new AppState(new ServiceClient(fake), { kind: 'browser' });
    render(App, { props: { app } });
    await app.init();
    const hint = await screen.findByTestId('demo-hint');
    expect(hint.textContent).toContain('Demo: handwritten digits');
    expect(
      within(hint)
        .getByRole('link', { name: /Predict/ })
        .getAttribute('href'),
    ).toBe('#/predict');
    app.view = 'evaluate';
    const model = await screen.findByRole('combobox', { name: 'Model' });
    const options = within(model)
      .getAllByRole('option')
      .map((o) => o.textContent ?? '');
    expect(options.filter((t) => t.includes('Demo: handwritten digits'))).toHaveLength(1);
  });

  it('has labelled navigation and shows the backend and device', async () => {
    await setup();
    const nav = screen.getByRole('navigation', { name: 'Main' });
    for (const name of ['Datasets', 'Train', 'Evaluate', 'Predict', 'Models'])
      expect(within(nav).getByRole('link', { name })).toBeTruthy();
    expect(screen.getByTestId('device').textContent).toContain('CPU (wasm)');
    await fireEvent.click(within(nav).getByRole('link', { name: 'Models' }));
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    expect(await screen.findByRole('heading', { name: 'Models' })).toBeTruthy();
  });

  it('shows a connection error saying what failed', async () => {
    await setup({
      fail: { 'system.info': new ServiceError('forbidden', 'Bad token: open the link rank1 serve printed.') },
    });
    expect((await screen.findByRole('alert')).textContent).toContain(
      'Bad token: open the link rank1 serve printed.',
    );
  });
});

describe('Datasets', () => {
  it('scans, shows balance and skipped files, imports with progress and lists the dataset', async () => {
    const { fake } = await setup();
    await fireEvent.input(screen.getByLabelText('Folder path on the server'), {
      target: { value: '/data/mnist' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Scan' }));
    expect(await screen.findByText(/3,180 images in 10 classes/)).toBeTruthy();
    expect(screen.getByRole('figure', { name: 'Class balance' })).toBeTruthy();
    expect(screen.getByText(/1 file\(s\) skipped/)).toBeTruthy();
    await fireEvent.input(screen.getByLabelText('Image size (px)'), { target: { value: '32' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    expect(await screen.findByRole('progressbar', { name: 'Import progress' })).toBeTruthy();
    await waitFor(() => expect(fake.datasets).toHaveLength(1));
    expect(fake.calls.find((c) => c.op === 'datasets.import')!.args).toMatchObject({
      path: '/data/mnist',
      imageSize: 32,
      fit: 'cover',
    });
    expect(await screen.findByText(/1 label conflict/)).toBeTruthy();
    expect(await screen.findByRole('list', { name: 'Thumbnails' })).toBeTruthy();
  });

  it('sends the image size typed; an emptied size field is auto (null), not 0', async () => {
    const { fake, app } = await setup();
    await fireEvent.input(screen.getByLabelText('Folder path on the server'), {
      target: { value: '/data/mnist' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Scan' }));
    await screen.findByText(/3,180 images in 10 classes/);
    const size = screen.getByRole('spinbutton', { name: 'Image size (px)' });
    await fireEvent.input(size, { target: { value: '48' } });
    expect(app.data.imageSize).toBe(48);
    await fireEvent.input(size, { target: { value: '' } });
    expect(app.data.imageSize).toBeNull();
    await fireEvent.click(screen.getByRole('button', { name: 'Import' }));
    await waitFor(() => expect(fake.datasets).toHaveLength(1));
    expect(fake.calls.find((c) => c.op === 'datasets.import')!.args).not.toHaveProperty('imageSize');
  });

  it('shows a scan error where it happened', async () => {
    await setup();
    await fireEvent.input(screen.getByLabelText('Folder path on the server'), {
      target: { value: '/missing' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Scan' }));
    expect((await screen.findByRole('alert')).textContent).toContain('No folder at /missing');
  });
});

describe('Train', () => {
  it('starts a preset training, shows progress and curves, and finishes with a model', async () => {
    const { fake, app } = await setup({}, '#/train');
    await addDataset(fake, app);
    await fireEvent.click(screen.getByLabelText(/Balanced/));
    await fireEvent.click(screen.getByRole('button', { name: 'Start training' }));
    expect(await screen.findByRole('progressbar', { name: 'Training progress' })).toBeTruthy();
    expect(fake.calls.find((c) => c.op === 'train.start')!.args).toEqual({
      dataset: 'ds-1',
      preset: 'balanced',
      // A preset other than "Pretrained" is a network from scratch: it says so (issue 15).
      backbone: 'none',
    });
    await screen.findByText(/Training finished/, {}, { timeout: 5000 });
    expect(app.train.curves.epoch).toEqual([1, 2, 3]);
    expect(screen.getByRole('group', { name: 'Training curves' })).toBeTruthy();
    await waitFor(() => expect(app.models.some((m) => !m.demo)).toBe(true));
  });

  it('shows a training that was already running when the window opened', async () => {
    const { app } = await setup(
      {
        running: [
          {
            jobId: 'old',
            kind: 'train',
            state: 'running',
            startedAt: new Date().toISOString(),
            title: 'Train on mnist',
            last: {
              type: 'step',
              epoch: 3,
              step: 30,
              totalSteps: 100,
              loss: 0.3,
              kl: 0.1,
              lr: 0.1,
              imagesPerSecond: 800,
              etaSeconds: 70,
            },
            history: [{ epoch: 1 } as never, { epoch: 2 } as never],
          },
        ],
      },
      '#/train',
    );
    expect(app.train.jobId).toBe('old');
    expect(await screen.findByText('Train on mnist')).toBeTruthy();
    expect(screen.getByRole('progressbar', { name: 'Training progress' }).getAttribute('aria-valuenow')).toBe(
      '30',
    );
    expect(app.train.curves.epoch).toEqual([1, 2]);
  });
});

describe('Evaluate', () => {
  it('shows metrics with hints, the reliability diagram, OOD separation, the operating point and the review queue', async () => {
    const { fake, app } = await setup({}, '#/evaluate');
    await addDataset(fake, app);
    await fireEvent.input(screen.getByLabelText(/OOD folder/), { target: { value: '/data/notmnist' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Evaluate' }));
    expect(await screen.findByRole('figure', { name: 'Reliability diagram' })).toBeTruthy();
    // before and after calibration (issue 16.1): the T = 1 diagram beside the calibrated one
    const before = screen.getByRole('figure', { name: 'Reliability diagram before calibration' });
    expect(before.querySelector('svg')).toBeTruthy();
    expect(before.textContent).toMatch(/T = 1\.40/);
    expect(screen.getByText(/Gap between stated confidence/)).toBeTruthy();
    expect(screen.getByRole('figure', { name: 'Entropy histogram' })).toBeTruthy();
    expect(screen.getByRole('table', { name: /Telling the OOD folder/ }).textContent).toContain('0.950');
    expect(screen.getByText(/Accept predictions above 90%: \d+% of images, accuracy/)).toBeTruthy();
    const cell = screen.getAllByRole('button', { name: /images of 0 predicted as 0/ })[0]!;
    await fireEvent.click(cell);
    expect(screen.getByRole('list', { name: 'Images in the selected cell' }).children.length).toBeGreaterThan(
      0,
    );
    expect(screen.getByRole('list', { name: 'Review queue' }).children.length).toBe(60);
  });
});

describe('Predict', () => {
  it('streams cards from uploaded files with entropy, split and OOD reasons; filters, sorts and exports', async () => {
    const { fake, app } = await setup({}, '#/predict');
    const files = [
      ...Array.from(
        { length: 6 },
        (_, i) => new File([new Uint8Array([1, 2, 3])], `digit${i}.png`, { type: 'image/png' }),
      ),
      new File([new Uint8Array([1])], 'A_letter.png', { type: 'image/png' }),
      new File(['x'], 'notes.txt', { type: 'text/plain' }),
    ];
    await fireEvent.change(screen.getByLabelText('Add images'), { target: { files } });
    const list = await screen.findByRole('list', { name: 'Predictions' });
    await waitFor(() => expect(within(list).getAllByRole('listitem')).toHaveLength(7));
    const predictCall = fake.calls.find((c) => c.op === 'predict')!.args as {
      model: string;
      files: { name: string; base64: string }[];
    };
    expect(predictCall.model).toBe('demo-digits');
    expect(predictCall.files.map((f) => f.name)).not.toContain('notes.txt');
    expect(predictCall.files[0]!.base64).toBe('AQID');
    expect(screen.getByText(/1 file\(s\) skipped/)).toBeTruthy();
    const letter = within(list).getByRole('article', { name: 'A_letter.png' });
    expect(within(letter).getByText('OOD')).toBeTruthy();
    // The reason in words with the typical range (the fake names its score 'mutualInformation'; the
    // engine's name, 'mutual_information', reads "the members disagree").
    expect(
      within(letter).getByText(
        /OOD: (the members disagree \(mutual information 0\.900; typical ≤ 0\.400\)|mutualInformation 0\.900; typical ≤ 0\.400)/,
      ),
    ).toBeTruthy();
    expect(within(letter).getByRole('meter', { name: 'entropy' })).toBeTruthy();
    expect(within(letter).getByRole('meter', { name: 'epistemic uncertainty' })).toBeTruthy();
    expect(screen.getByTestId('gauge-legend').textContent).toMatch(/aleatoric.*epistemic.*uncertain above/);
    expect(within(letter).getByRole('meter', { name: 'entropy' }).getAttribute('aria-valuetext')).toMatch(
      /aleatoric .* epistemic/,
    );

    await fireEvent.change(screen.getByLabelText('Show'), { target: { value: 'ood' } });
    await waitFor(() => expect(app.predict.visible.every((r) => r.ood)).toBe(true));
    await fireEvent.change(screen.getByLabelText('Show'), { target: { value: 'all' } });
    await fireEvent.change(screen.getByLabelText('Sort'), { target: { value: 'entropy-desc' } });
    const ents = app.predict.visible.map((r) => r.entropy!);
    expect(ents).toEqual([...ents].sort((a, b) => b - a));

    const urls: Blob[] = [];
    URL.createObjectURL = (b: Blob) => (urls.push(b), 'blob:x');
    URL.revokeObjectURL = () => {};
    await fireEvent.click(screen.getByRole('button', { name: 'Export CSV' }));
    await waitFor(() => expect(urls).toHaveLength(1));
    const csv = await urls[0]!.text();
    expect(csv.trim().split('\n')).toHaveLength(8);
    expect(fake.calls.find((c) => c.op === 'predictions.csv')!.args).not.toHaveProperty('rows.0.thumbnail');
  });

  it('shows thumbnails of dropped files made in the browser, without asking the service for them', async () => {
    const made: string[] = [];
    const saved = { create: URL.createObjectURL, revoke: URL.revokeObjectURL };
    URL.createObjectURL = (b: Blob) => `blob:thumb-${made.push((b as File).name)}`;
    URL.revokeObjectURL = () => {};
    try {
      const { fake, app } = await setup({}, '#/predict');
      const files = ['a.png', 'b.png', 'a.png'].map(
        (n) => new File([new Uint8Array([1, 2, 3])], n, { type: 'image/png' }),
      );
      await fireEvent.change(screen.getByLabelText('Add images'), { target: { files } });
      const list = await screen.findByRole('list', { name: 'Predictions' });
      await waitFor(() => expect(within(list).getAllByRole('listitem')).toHaveLength(3));
      expect(fake.calls.find((c) => c.op === 'predict')!.args).toMatchObject({ thumbnails: false });
      expect(made).toEqual(['a.png', 'b.png', 'a.png']);
      // Same-named files keep their own picture, in drop order.
      expect(app.predict.rows.map((r) => [r.name, r.thumbnail])).toEqual([
        ['a.png', 'blob:thumb-1'],
        ['b.png', 'blob:thumb-2'],
        ['a.png', 'blob:thumb-3'],
      ]);
      expect(list.querySelector('img')?.getAttribute('src')).toMatch(/^blob:thumb-/);
    } finally {
      Object.assign(URL, { createObjectURL: saved.create, revokeObjectURL: saved.revoke });
    }
  });

  it('asks the service for thumbnails of picked TIFFs, which an object URL cannot show', async () => {
    const made: string[] = [];
    const saved = { create: URL.createObjectURL, revoke: URL.revokeObjectURL };
    URL.createObjectURL = (b: Blob) => `blob:thumb-${made.push((b as File).name)}`;
    URL.revokeObjectURL = () => {};
    try {
      const { fake } = await setup({}, '#/predict');
      const files = ['scan.tif', 'photo.png'].map((n) => new File([new Uint8Array([1, 2, 3])], n));
      await fireEvent.change(screen.getByLabelText('Add images'), { target: { files } });
      await waitFor(() => expect(fake.calls.some((c) => c.op === 'predict')).toBe(true));
      expect(fake.calls.find((c) => c.op === 'predict')!.args).toMatchObject({ thumbnails: true });
      // The PNG still gets its object URL (used when the service sends no thumbnail); the TIFF none.
      expect(made).toEqual(['photo.png']);
    } finally {
      Object.assign(URL, { createObjectURL: saved.create, revokeObjectURL: saved.revoke });
    }
  });

  it('waits for the model list when images are dropped the moment the window opens', async () => {
    const fake = new FakeService({ stepMs: 1 });
    const app = new AppState(new ServiceClient(fake), { kind: 'browser' });
    const adding = app.predict.addFiles([
      new File([new Uint8Array([1])], 'early.png', { type: 'image/png' }),
    ]);
    await app.init();
    await adding;
    expect(app.predict.error).toBeNull();
    expect(fake.calls.find((c) => c.op === 'predict')!.args).toMatchObject({ model: 'demo-digits' });
  });

  it('copies into class folders with _uncertain and _ood via a server path', async () => {
    const { fake, app } = await setup({}, '#/predict');
    await app.predict.addPaths(['/data/mix']);
    await waitFor(() => expect(app.predict.running).toHaveLength(0));
    app.predict.flush();
    await fireEvent.input(screen.getByLabelText('Destination folder on the server'), {
      target: { value: '/out' },
    });
    await fireEvent.click(screen.getByRole('button', { name: 'Copy' }));
    expect(
      (await screen.findByRole('status', { name: '' }, { timeout: 100 }).catch(() => null)) ?? true,
    ).toBeTruthy();
    await waitFor(() => expect(app.predict.notice).toMatch(/Copied 40 image\(s\) into \/out/));
    expect(fake.calls.find((c) => c.op === 'predictions.copy')!.args).toMatchObject({ dest: '/out' });
  });

  it('virtualises 1,000 cards', async () => {
    const { app } = await setup({}, '#/predict');
    const { demoRows } = await import('../../src-renderer/lib/fake-service.js');
    app.predict.load(demoRows(1000));
    const list = await screen.findByRole('list', { name: 'Predictions' });
    const items = within(list).getAllByRole('listitem');
    expect(items.length).toBeLessThan(40);
    expect(items[0]!.getAttribute('aria-setsize')).toBe('1000');
    expect(screen.getByTestId('predict-summary').textContent).toContain('1,000 image(s)');
  });

  it('says what to do when no model exists', async () => {
    const { fake, app } = await setup({}, '#/predict');
    fake.models = [];
    await app.refreshModels();
    await app.predict.addPaths(['/x']);
    expect((await screen.findByRole('alert')).textContent).toContain('No model yet. Train one under Train');
  });
});

describe('Models', () => {
  it('renames, selects for Predict and deletes with confirmation', async () => {
    const { app } = await setup({}, '#/models');
    await fireEvent.click(screen.getByRole('button', { name: /Rename Demo/ }));
    await fireEvent.input(screen.getByLabelText('New name'), { target: { value: 'Digits' } });
    await fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByText('Digits')).toBeTruthy();
    expect(screen.getByText('used by Predict')).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: 'Delete Digits' }));
    await fireEvent.click(screen.getByRole('button', { name: 'Confirm deleting Digits' }));
    await waitFor(() => expect(app.models).toHaveLength(0));
    expect(screen.getByText(/No models/)).toBeTruthy();
  });

  it('exports for deployment as ONNX, the zip staying as the backup', async () => {
    const { fake, app } = await setup({}, '#/models');
    const name = app.models[0]!.name;
    await fireEvent.click(screen.getByRole('button', { name: `Export ${name} for deployment (ONNX)` }));
    expect(await screen.findByText(/Downloaded .*\.onnx\./)).toBeTruthy();
    await fireEvent.click(screen.getByRole('button', { name: `Back up ${name} (zip)` }));
    expect(await screen.findByText(/Downloaded .*\.rank1\.zip\./)).toBeTruthy();
    const exports = fake.calls.filter((c) => c.op === 'models.export').map((c) => c.args);
    expect(exports).toEqual([
      { id: app.models[0]!.id, format: 'onnx' },
      { id: app.models[0]!.id, format: 'zip' },
    ]);
  });
});

describe('Incomplete models (issue 15)', () => {
  it('shows "incomplete (epoch 1 of 5)" with Resume and Delete, and never selects it on its own', async () => {
    history.replaceState(null, '', '#/models');
    const fake = new FakeService({ stepMs: 1 });
    fake.models = [
      demoModel({ id: 'done', name: 'finished', createdAt: '2026-01-01T00:00:00.000Z' }),
      demoModel({
        id: 'half',
        name: 'cancelled run',
        createdAt: '2026-02-01T00:00:00.000Z',
        status: 'incomplete',
        epoch: 1,
        epochs: 5,
      }),
    ];
    const app = new AppState(new ServiceClient(fake), { kind: 'browser' });
    render(App, { props: { app } });
    await app.init();
    // The newer model is the incomplete one; Predict still uses the finished one.
    expect(app.activeModel?.id).toBe('done');
    const badge = await screen.findByTestId('incomplete');
    expect(badge.textContent).toBe('incomplete (epoch 1 of 5)');
    expect(screen.queryByRole('button', { name: 'Use cancelled run for predictions' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Delete cancelled run' })).toBeTruthy();
    app.train.dataset = 'ds-1';
    await fireEvent.click(screen.getByRole('button', { name: 'Resume training cancelled run' }));
    await waitFor(() =>
      // No dataset: the service resumes on the checkpoint's own folder, whatever was imported last.
      expect(fake.calls.find((c) => c.op === 'train.start')?.args).toEqual({ resumeFrom: 'half' }),
    );
  });
});
