"""The pages kit every feature's pages stand on: languages, `page()`, cookies, one error explainer."""
