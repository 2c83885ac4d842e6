// pages/failures.js - the Failures page (placeholder of the scaffold; the page's owner replaces it).
import { h, mount } from '../ui.js';

export default {
  id: 'failures',
  title: 'Failures',
  render(root) {
    mount(root, h('h1', {}, 'Failures'));
  },
};
