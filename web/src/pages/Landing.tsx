import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, session, unwrap } from "../api/client";

export function Landing() {
  const marketing = useQuery({ queryKey: ["ui", "marketing"], queryFn: async () => unwrap(await api.GET("/v1/ui/marketing")) });
  if (marketing.isPending) return <main className="landing" aria-busy="true">Loading…</main>;
  if (marketing.isError) return <main className="landing" role="alert">{marketing.error.message}</main>;
  const { hero, features, pricing, testimonials } = marketing.data;
  const signedIn = Boolean(session.token());
  return (
    <main className="landing">
      <header className="hero">
        <h1>{hero.title}</h1>
        <p>{hero.subtitle}</p>
        <p className="actions">
          <Link className="button primary" to={signedIn ? "/dashboard" : hero.primary_cta.href}>
            {signedIn ? "Open the dashboard" : hero.primary_cta.label}
          </Link>
          <a className="button" href={hero.secondary_cta.href}>{hero.secondary_cta.label}</a>
        </p>
      </header>
      <section aria-labelledby="features-title">
        <h2 id="features-title">Features</h2>
        <ul className="cards">
          {features.map((f) => (
            <li key={f.feature_id} className="card"><h3>{f.title}</h3><p>{f.description}</p></li>
          ))}
        </ul>
      </section>
      <section id="pricing" aria-labelledby="pricing-title">
        <h2 id="pricing-title">Pricing</h2>
        <ul className="cards">
          {pricing.plans.map((plan) => (
            <li key={plan.plan_id} className={plan.highlighted ? "card highlighted" : "card"}>
              <h3>{plan.name}</h3>
              <p className="price">${plan.monthly_cost_usd} / month</p>
              <ul>
                {Object.entries(plan.limits).map(([key, value]) => (
                  <li key={key}>{key.replaceAll("_", " ")}: {value ?? "unlimited"}</li>
                ))}
              </ul>
            </li>
          ))}
        </ul>
      </section>
      <section aria-labelledby="testimonials-title">
        <h2 id="testimonials-title">What users say</h2>
        {testimonials.map((t) => (
          <figure key={t.quote}><blockquote>{t.quote}</blockquote><figcaption>{t.author}, {t.role}</figcaption></figure>
        ))}
      </section>
    </main>
  );
}
