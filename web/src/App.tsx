import { lazy, Suspense } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { session } from "./api/client";
import { Layout } from "./components/Layout";
import { Landing } from "./pages/Landing";
import { NotFound } from "./pages/NotFound";
import { SignIn } from "./pages/SignIn";

// Each signed-in page is its own chunk: the landing and sign-in pages load without React Flow,
// the cron parser or the settings forms.
const Dashboard = lazy(() => import("./pages/Dashboard").then((m) => ({ default: m.Dashboard })));
const Runs = lazy(() => import("./pages/Runs").then((m) => ({ default: m.Runs })));
const RunPage = lazy(() => import("./pages/RunPage").then((m) => ({ default: m.RunPage })));
const TriggerRun = lazy(() => import("./pages/TriggerRun").then((m) => ({ default: m.TriggerRun })));
const Flows = lazy(() => import("./pages/Flows").then((m) => ({ default: m.Flows })));
const FlowPage = lazy(() => import("./pages/FlowPage").then((m) => ({ default: m.FlowPage })));
const Environments = lazy(() => import("./pages/Environments").then((m) => ({ default: m.Environments })));
const Schedules = lazy(() => import("./pages/Schedules").then((m) => ({ default: m.Schedules })));
const SchedulePage = lazy(() => import("./pages/SchedulePage").then((m) => ({ default: m.SchedulePage })));
const Sensors = lazy(() => import("./pages/Sensors").then((m) => ({ default: m.Sensors })));
const SensorPage = lazy(() => import("./pages/SensorPage").then((m) => ({ default: m.SensorPage })));
const Settings = lazy(() => import("./pages/settings/Settings").then((m) => ({ default: m.Settings })));
const Profile = lazy(() => import("./pages/settings/Profile").then((m) => ({ default: m.Profile })));
const Members = lazy(() => import("./pages/settings/Members").then((m) => ({ default: m.Members })));
const ApiKeys = lazy(() => import("./pages/settings/ApiKeys").then((m) => ({ default: m.ApiKeys })));
const Secrets = lazy(() => import("./pages/settings/Secrets").then((m) => ({ default: m.Secrets })));
const Audit = lazy(() => import("./pages/settings/Audit").then((m) => ({ default: m.Audit })));
const Billing = lazy(() => import("./pages/settings/Billing").then((m) => ({ default: m.Billing })));
const Notifications = lazy(() => import("./pages/settings/Notifications").then((m) => ({ default: m.Notifications })));
const Usage = lazy(() => import("./pages/Usage").then((m) => ({ default: m.Usage })));
const Builder = lazy(() => import("./pages/Builder").then((m) => ({ default: m.Builder })));
const AiStudio = lazy(() => import("./pages/AiStudio").then((m) => ({ default: m.AiStudio })));
const Admin = lazy(() => import("./pages/admin/Admin").then((m) => ({ default: m.Admin })));

function RequireSession({ children }: { children: React.ReactNode }) {
  const location = useLocation();
  if (!session.token()) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return children;
}

const loading = <p aria-busy="true">Loading…</p>;

export function App() {
  return (
    <Routes>
      <Route path="/" element={<Landing />} />
      <Route path="/login" element={<SignIn />} />
      <Route
        element={
          <RequireSession>
            <Layout />
          </RequireSession>
        }
      >
        <Route path="/dashboard" element={<Suspense fallback={loading}><Dashboard /></Suspense>} />
        <Route path="/runs" element={<Suspense fallback={loading}><Runs /></Suspense>} />
        <Route path="/runs/new" element={<Suspense fallback={loading}><TriggerRun /></Suspense>} />
        <Route path="/runs/:runId" element={<Suspense fallback={loading}><RunPage /></Suspense>} />
        <Route path="/flows" element={<Suspense fallback={loading}><Flows /></Suspense>} />
        <Route path="/flows/:flowName" element={<Suspense fallback={loading}><FlowPage /></Suspense>} />
        <Route path="/builder" element={<Suspense fallback={loading}><Builder /></Suspense>} />
        <Route path="/builder/:draftId" element={<Suspense fallback={loading}><Builder /></Suspense>} />
        <Route path="/ai-studio" element={<Suspense fallback={loading}><AiStudio /></Suspense>} />
        <Route path="/ai-studio/:sessionId" element={<Suspense fallback={loading}><AiStudio /></Suspense>} />
        <Route path="/usage" element={<Suspense fallback={loading}><Usage /></Suspense>} />
        <Route path="/admin/*" element={<Suspense fallback={loading}><Admin /></Suspense>} />
        <Route path="/environments" element={<Suspense fallback={loading}><Environments /></Suspense>} />
        <Route path="/schedules" element={<Suspense fallback={loading}><Schedules /></Suspense>} />
        <Route path="/schedules/:scheduleId" element={<Suspense fallback={loading}><SchedulePage /></Suspense>} />
        <Route path="/sensors" element={<Suspense fallback={loading}><Sensors /></Suspense>} />
        <Route path="/sensors/:sensorId" element={<Suspense fallback={loading}><SensorPage /></Suspense>} />
        {/* The sidebar's short links to two settings sections. */}
        <Route path="/secrets" element={<Navigate to="/settings/secrets" replace />} />
        <Route path="/audit" element={<Navigate to="/settings/audit" replace />} />
        <Route path="/settings" element={<Suspense fallback={loading}><Settings /></Suspense>}>
          <Route index element={<Navigate to="profile" replace />} />
          <Route path="profile" element={<Suspense fallback={loading}><Profile /></Suspense>} />
          <Route path="members" element={<Suspense fallback={loading}><Members /></Suspense>} />
          <Route path="api-keys" element={<Suspense fallback={loading}><ApiKeys /></Suspense>} />
          <Route path="secrets" element={<Suspense fallback={loading}><Secrets /></Suspense>} />
          <Route path="audit" element={<Suspense fallback={loading}><Audit /></Suspense>} />
          <Route path="notifications" element={<Suspense fallback={loading}><Notifications /></Suspense>} />
          <Route path="billing" element={<Suspense fallback={loading}><Billing /></Suspense>} />
        </Route>
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}
