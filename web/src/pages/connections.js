// pages/connections.js - the Connections page (placeholder of the scaffold; the page's owner replaces it).
import { h, mount } from '../ui.js';

export default {
  id: 'connections',
  title: 'Connections',
  render(root) {
    mount(root, h('h1', {}, 'Connections'));
  },
};
