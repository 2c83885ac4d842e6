// pages/runs.js - the Runs page (placeholder of the scaffold; the page's owner replaces it).
import { h, mount } from '../ui.js';

export default {
  id: 'runs',
  title: 'Runs',
  render(root) {
    mount(root, h('h1', {}, 'Runs'));
  },
};
