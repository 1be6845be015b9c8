from sigrekap import create_app

app = create_app()
