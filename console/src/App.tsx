export function App() {
  return (
    <main>
      <h1>Loopgate</h1>
      <p>The reviewer console is being built.</p>
    </main>
  );
}
