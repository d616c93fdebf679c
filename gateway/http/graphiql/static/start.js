// Starts GraphiQL on /graphql. A served file, not an inline script, so that the page's
// Content-Security-Policy can say script-src 'self' and nothing more.
"use strict";

(function () {
  const WELCOME = `# Provider Portal Gateway
#
# Put your bearer token in the Headers tab below, e.g.
#   {"Authorization": "Bearer <token>"}
# (a development token: .venv/bin/gateway token admin)
# then run a query with Ctrl-Enter or the play button.
`;

  // ?q=...&variables=... share a query; the headers (a token) are never put in the address.
  const parameters = new URLSearchParams(window.location.search);

  function remember(name, value) {
    if (value) {
      parameters.set(name, value);
    } else {
      parameters.delete(name);
    }
    const search = parameters.toString();
    history.replaceState(null, "", search ? "?" + search : window.location.pathname);
  }

  const fetcher = GraphiQL.createFetcher({ url: window.location.pathname });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();

  function GatewayGraphiQL() {
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultQuery: WELCOME,
      query: parameters.get("q") || undefined,
      variables: parameters.get("variables") || undefined,
      onEditQuery: (query) => remember("q", query),
      onEditVariables: (variables) => remember("variables", variables),
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      // Tokens stay in this tab's memory, not in the browser's storage.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GatewayGraphiQL),
  );
})();
