// pages/settings.js - the Settings page (placeholder of the scaffold; the page's owner replaces it).
import { h, mount } from '../ui.js';

export default {
  id: 'settings',
  title: 'Settings',
  render(root) {
    mount(root, h('h1', {}, 'Settings'));
  },
};
