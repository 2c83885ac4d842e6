// pages/overview.js - the Overview page (placeholder of the scaffold; the page's owner replaces it).
import { h, mount } from '../ui.js';

export default {
  id: 'overview',
  title: 'Overview',
  render(root) {
    mount(root, h('h1', {}, 'Overview'));
  },
};
